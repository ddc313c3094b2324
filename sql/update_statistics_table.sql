-- name: update_statistics_table
-- summary: UPDATE STATISTICS ... WITH FULLSCAN for one table named through QUOTENAME.
-- params: @tableName sysname
-- returns: none
-- writes: yes
-- dry run: no rows
SET NOCOUNT ON;
DECLARE @tableName sysname = ?;
DECLARE @sql nvarchar(max);
SELECT @sql = N'UPDATE STATISTICS [dbo].' + QUOTENAME(t.name) + N' WITH FULLSCAN'
FROM sys.tables AS t
WHERE t.object_id = OBJECT_ID(N'dbo.' + QUOTENAME(@tableName));
IF @sql IS NOT NULL
    EXEC sys.sp_executesql @sql;
