-- name: check_permissions
-- summary: The rights each stage needs for what it really runs, tested with HAS_PERMS_BY_NAME and
--          IS_ROLEMEMBER (1 = held). Index DDL needs ALTER on the table; sp_updatestats checks
--          db_owner membership itself ("Requires membership in the sysadmin fixed server role, or
--          ownership of the database"); OBJECT_DEFINITION returns NULL without VIEW DEFINITION, so
--          the spDeleteUpdate fix check cannot tell without it.
--          (https://learn.microsoft.com/sql/t-sql/functions/has-perms-by-name-transact-sql)
-- params: none
-- returns: Permission, Held
-- writes: no
SET NOCOUNT ON;
SELECT N'SELECT on database' AS Permission, HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'SELECT') AS Held
UNION ALL SELECT N'VIEW DATABASE STATE', HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'VIEW DATABASE STATE')
UNION ALL SELECT N'EXECUTE dbo.spDeclineUpdate', HAS_PERMS_BY_NAME(N'dbo.spDeclineUpdate', 'OBJECT', 'EXECUTE')
UNION ALL SELECT N'EXECUTE dbo.spGetObsoleteUpdatesToCleanup', HAS_PERMS_BY_NAME(N'dbo.spGetObsoleteUpdatesToCleanup', 'OBJECT', 'EXECUTE')
UNION ALL SELECT N'EXECUTE dbo.spDeleteUpdate', HAS_PERMS_BY_NAME(N'dbo.spDeleteUpdate', 'OBJECT', 'EXECUTE')
UNION ALL SELECT N'EXECUTE dbo.spGetUpdatesToCompress', HAS_PERMS_BY_NAME(N'dbo.spGetUpdatesToCompress', 'OBJECT', 'EXECUTE')
UNION ALL SELECT N'EXECUTE dbo.spCompressUpdate', HAS_PERMS_BY_NAME(N'dbo.spCompressUpdate', 'OBJECT', 'EXECUTE')
UNION ALL SELECT N'EXECUTE dbo.spCleanupObsoleteComputers', HAS_PERMS_BY_NAME(N'dbo.spCleanupObsoleteComputers', 'OBJECT', 'EXECUTE')
UNION ALL SELECT N'DELETE on dbo.tbEventInstance', HAS_PERMS_BY_NAME(N'dbo.tbEventInstance', 'OBJECT', 'DELETE')
UNION ALL SELECT N'ALTER on dbo.tbLocalizedPropertyForRevision (custom index)', HAS_PERMS_BY_NAME(N'dbo.tbLocalizedPropertyForRevision', 'OBJECT', 'ALTER')
UNION ALL SELECT N'ALTER on dbo.tbRevisionSupersedesUpdate (custom index)', HAS_PERMS_BY_NAME(N'dbo.tbRevisionSupersedesUpdate', 'OBJECT', 'ALTER')
UNION ALL SELECT N'ALTER on every dbo table (reindex)',
    CASE WHEN EXISTS (
        SELECT 1 FROM sys.tables AS t
        WHERE t.schema_id = SCHEMA_ID(N'dbo') AND t.is_ms_shipped = 0
          AND HAS_PERMS_BY_NAME(CONCAT(N'dbo.', QUOTENAME(t.name)), 'OBJECT', 'ALTER') = 0)
    THEN 0 ELSE 1 END
UNION ALL SELECT N'db_owner (sp_updatestats)', IS_ROLEMEMBER(N'db_owner')
UNION ALL SELECT N'BACKUP DATABASE (backup stage)', HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'BACKUP DATABASE')
UNION ALL SELECT N'VIEW DEFINITION on dbo.spDeleteUpdate (fix check)', HAS_PERMS_BY_NAME(N'dbo.spDeleteUpdate', 'OBJECT', 'VIEW DEFINITION')
UNION ALL SELECT N'ALTER on dbo.spDeleteUpdate (delete_fix stage)', HAS_PERMS_BY_NAME(N'dbo.spDeleteUpdate', 'OBJECT', 'ALTER')
UNION ALL SELECT N'SELECT on msdb.dbo.backupset (backup gate)', HAS_PERMS_BY_NAME(N'msdb.dbo.backupset', 'OBJECT', 'SELECT');
