-- name: backup_database
-- summary: A copy-only, checksummed full backup of the current database to a new file (the backup
--          stage names a new file each run, so the last good backup is never overwritten);
--          copy-only so it does not disturb the administrator's own backup chain.
-- params: @path nvarchar(4000)
-- returns: none
-- writes: yes
-- dry run: no rows
-- dry run then: last_full_backup answers LastBackupUtc = SYSUTCDATETIME(), Device = @path
SET NOCOUNT ON;
DECLARE @path nvarchar(4000) = ?;
DECLARE @sql nvarchar(max) =
    N'BACKUP DATABASE ' + QUOTENAME(DB_NAME()) + N' TO DISK = @target WITH COPY_ONLY, CHECKSUM, INIT, STATS = 10';
EXEC sys.sp_executesql @sql, N'@target nvarchar(4000)', @target = @path;
