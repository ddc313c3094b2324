-- name: last_full_backup
-- summary: The newest full database backup, copy-only included: its finish time (UTC) and where
--          it went (msdb.dbo.backupmediafamily), so a passed backup gate says which backup it
--          relied on.
-- params: none
-- returns: LastBackupUtc, Device (no row when the database was never backed up)
-- writes: no
SET NOCOUNT ON;
SELECT TOP (1)
       DATEADD(minute, -DATEDIFF(minute, GETUTCDATE(), GETDATE()), b.backup_finish_date) AS LastBackupUtc,
       f.physical_device_name AS Device
FROM msdb.dbo.backupset AS b
LEFT JOIN msdb.dbo.backupmediafamily AS f ON f.media_set_id = b.media_set_id
WHERE b.database_name = DB_NAME()
  AND b.type = 'D'
ORDER BY b.backup_finish_date DESC;
