-- name: check_permissions
-- summary: The rights each stage needs, tested with HAS_PERMS_BY_NAME (1 = held).
-- params: none
-- returns: Permission, Held
SET NOCOUNT ON;
SELECT N'SELECT on database' AS Permission, HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'SELECT') AS Held
UNION ALL SELECT N'VIEW DATABASE STATE', HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'VIEW DATABASE STATE')
UNION ALL SELECT N'EXECUTE dbo.spDeclineUpdate', HAS_PERMS_BY_NAME(N'dbo.spDeclineUpdate', 'OBJECT', 'EXECUTE')
UNION ALL SELECT N'EXECUTE dbo.spDeleteUpdate', HAS_PERMS_BY_NAME(N'dbo.spDeleteUpdate', 'OBJECT', 'EXECUTE')
UNION ALL SELECT N'EXECUTE dbo.spGetObsoleteUpdatesToCleanup', HAS_PERMS_BY_NAME(N'dbo.spGetObsoleteUpdatesToCleanup', 'OBJECT', 'EXECUTE')
UNION ALL SELECT N'EXECUTE dbo.spCompressUpdate', HAS_PERMS_BY_NAME(N'dbo.spCompressUpdate', 'OBJECT', 'EXECUTE')
UNION ALL SELECT N'EXECUTE dbo.spCleanupObsoleteComputers', HAS_PERMS_BY_NAME(N'dbo.spCleanupObsoleteComputers', 'OBJECT', 'EXECUTE')
UNION ALL SELECT N'DELETE on dbo.tbEventInstance', HAS_PERMS_BY_NAME(N'dbo.tbEventInstance', 'OBJECT', 'DELETE')
UNION ALL SELECT N'ALTER on database (indexes)', HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'ALTER ANY SCHEMA')
UNION ALL SELECT N'SELECT on msdb.dbo.backupset', HAS_PERMS_BY_NAME(N'msdb.dbo.backupset', 'OBJECT', 'SELECT');
