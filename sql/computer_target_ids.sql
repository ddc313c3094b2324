-- name: computer_target_ids
-- summary: Every computer's TargetID: taken before and after spCleanupObsoleteComputers inside one
--          transaction, so the guard counts exactly the computers WSUS really deleted, whatever
--          threshold and date column WSUS uses.
-- params: none
-- returns: TargetID
-- writes: no
SET NOCOUNT ON;
SELECT ct.TargetID
FROM dbo.tbComputerTarget AS ct;
