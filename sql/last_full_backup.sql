-- name: last_full_backup
-- summary: Finish time (UTC) of the newest full database backup, copy-only included.
-- params: none
-- returns: LastBackupUtc (NULL when the database was never backed up)
SET NOCOUNT ON;
SELECT MAX(DATEADD(minute, -DATEDIFF(minute, GETUTCDATE(), GETDATE()), b.backup_finish_date)) AS LastBackupUtc
FROM msdb.dbo.backupset AS b
WHERE b.database_name = DB_NAME()
  AND b.type = 'D';
