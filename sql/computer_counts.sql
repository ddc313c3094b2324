-- name: computer_counts
-- summary: All computers, and those that have not synchronized for @inactiveDays days, for the
--          guard that keeps a broken reporting pipeline from wiping the inventory.
-- params: @inactiveDays int
-- returns: Total, Inactive
SET NOCOUNT ON;
DECLARE @inactiveDays int = ?;
SELECT COUNT(*) AS Total,
       COALESCE(SUM(CASE WHEN ct.LastSyncTime < DATEADD(day, -@inactiveDays, GETUTCDATE()) THEN 1 ELSE 0 END), 0) AS Inactive
FROM dbo.tbComputerTarget AS ct;
