-- name: cleanup_obsolete_computers
-- summary: WSUS's own deletion of computers that stopped reporting. It takes no parameter and
--          deletes by the server's own threshold (MS-WSUSAR 3.1.4.108: "SHOULD be 30 days ...
--          a WSUS server configuration option"); the computers stage runs it inside its own
--          transaction and rolls it back when the guard's limits are exceeded.
-- params: none
-- returns: Column1 (computers deleted, as WSUS counts them)
-- effect: once
-- writes: yes
-- dry run: no rows
SET NOCOUNT ON;
EXEC dbo.spCleanupObsoleteComputers;
