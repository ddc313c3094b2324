-- name: database_size
-- summary: Size of the database files in MB.
-- params: none
-- returns: SizeMB
-- writes: no
SET NOCOUNT ON;
SELECT CAST(SUM(CAST(f.size AS bigint)) * 8 / 1024 AS bigint) AS SizeMB
FROM sys.database_files AS f;
