-- name: drop_custom_index
-- summary: Drop one index this tool created. The name is checked against sys.indexes and must
--          carry the tool's prefix; it reaches the DDL only through QUOTENAME.
-- params: @tableName sysname, @indexName sysname
-- returns: none
-- writes: yes
-- dry run: no rows
-- dry run then: index_key_columns leave out TableName = @tableName and IndexName = @indexName
SET NOCOUNT ON;
DECLARE @tableName sysname = ?;
DECLARE @indexName sysname = ?;
DECLARE @sql nvarchar(max);
SELECT @sql = N'DROP INDEX ' + QUOTENAME(i.name) + N' ON [dbo].' + QUOTENAME(o.name)
FROM sys.indexes AS i
JOIN sys.objects AS o ON o.object_id = i.object_id
WHERE o.object_id = OBJECT_ID(N'dbo.' + QUOTENAME(@tableName))
  AND i.name = @indexName
  AND i.name LIKE N'nclSusdbMaint[_]%';
IF @sql IS NOT NULL
    EXEC sys.sp_executesql @sql;
