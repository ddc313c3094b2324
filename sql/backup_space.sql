-- name: backup_space
-- summary: What a full backup of this database needs and where the engine can see free space:
--          the data pages in use (a full backup copies those, plus the log written meanwhile)
--          and, per volume that holds one of the database's files, the bytes free there
--          (sys.dm_os_volume_stats, SQL Server 2008 R2 SP1 and later, VIEW SERVER STATE). The
--          backup stage compares a backup folder on one of those volumes with what it needs.
-- params: none
-- returns: MountPoint, AvailableBytes, UsedBytes (the same on every row)
-- writes: no
SET NOCOUNT ON;
DECLARE @usedBytes bigint = (SELECT SUM(CAST(FILEPROPERTY(f.name, 'SpaceUsed') AS bigint)) * 8192
                             FROM sys.database_files AS f
                             WHERE f.type = 0);
SELECT DISTINCT vs.volume_mount_point AS MountPoint,
       CAST(vs.available_bytes AS bigint) AS AvailableBytes,
       @usedBytes AS UsedBytes
FROM sys.database_files AS f
CROSS APPLY sys.dm_os_volume_stats(DB_ID(), f.file_id) AS vs;
