-- name: rebuild_index
-- summary: ALTER INDEX ... REBUILD for one index, with ONLINE, FILLFACTOR and MAXDOP as asked.
--          Names come from sys.indexes through QUOTENAME; options are integers.
-- params: @tableName sysname, @indexName sysname, @online bit, @fillFactor int NULL, @maxdop int NULL
-- returns: none
-- writes: yes
-- dry run: no rows
-- dry run then: index_fragmentation leave out TableName = @tableName and
--          IndexName = @indexName
SET NOCOUNT ON;
SET QUOTED_IDENTIFIER ON;
DECLARE @tableName sysname = ?;
DECLARE @indexName sysname = ?;
DECLARE @online bit = ?;
DECLARE @fillFactor int = ?;
DECLARE @maxdop int = ?;
DECLARE @sql nvarchar(max);
SELECT @sql = N'ALTER INDEX ' + QUOTENAME(i.name) + N' ON [dbo].' + QUOTENAME(o.name)
    + N' REBUILD WITH (ONLINE = ' + CASE WHEN @online = 1 THEN N'ON' ELSE N'OFF' END
    + ISNULL(N', FILLFACTOR = ' + CAST(@fillFactor AS nvarchar(3)), N'')
    + ISNULL(N', MAXDOP = ' + CAST(@maxdop AS nvarchar(3)), N'')
    + N')'
FROM sys.indexes AS i
JOIN sys.objects AS o ON o.object_id = i.object_id
WHERE o.object_id = OBJECT_ID(N'dbo.' + QUOTENAME(@tableName)) AND i.name = @indexName;
IF @sql IS NULL
    RAISERROR (N'index %s on dbo.%s not found', 16, 1, @indexName, @tableName);
ELSE
    EXEC sys.sp_executesql @sql;
