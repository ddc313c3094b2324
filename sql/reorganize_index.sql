-- name: reorganize_index
-- summary: ALTER INDEX ... REORGANIZE for one index, named through QUOTENAME from sys.indexes.
-- params: @tableName sysname, @indexName sysname
-- returns: none
-- writes: yes
-- dry run: no rows
-- dry run then: index_fragmentation leave out TableName = @tableName and
--          IndexName = @indexName
SET NOCOUNT ON;
SET QUOTED_IDENTIFIER ON;
DECLARE @tableName sysname = ?;
DECLARE @indexName sysname = ?;
DECLARE @sql nvarchar(max);
SELECT @sql = N'ALTER INDEX ' + QUOTENAME(i.name) + N' ON [dbo].' + QUOTENAME(o.name) + N' REORGANIZE'
FROM sys.indexes AS i
JOIN sys.objects AS o ON o.object_id = i.object_id
WHERE o.object_id = OBJECT_ID(N'dbo.' + QUOTENAME(@tableName)) AND i.name = @indexName;
IF @sql IS NULL
    RAISERROR (N'index %s on dbo.%s not found', 16, 1, @indexName, @tableName);
ELSE
    EXEC sys.sp_executesql @sql;
