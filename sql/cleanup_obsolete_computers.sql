-- name: cleanup_obsolete_computers
-- summary: WSUS's own deletion of computers that stopped reporting (its threshold: 30 days).
-- params: none
-- returns: Column1 (computers deleted)
SET NOCOUNT ON;
EXEC dbo.spCleanupObsoleteComputers;
