-- name: user_tables
-- summary: The database's user tables, for per-table statistics.
-- params: none
-- returns: TableName
-- writes: no
SET NOCOUNT ON;
SELECT t.name AS TableName
FROM sys.tables AS t
WHERE t.is_ms_shipped = 0 AND SCHEMA_NAME(t.schema_id) = N'dbo'
ORDER BY t.name;
