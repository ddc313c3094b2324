-- name: index_fragmentation
-- summary: One row per index of a dbo user table at the leaf level, in-row data only, from
--          sys.dm_db_index_physical_stats. @mode SAMPLED (Microsoft's reindex script) measures page
--          density and record counts too; LIMITED reads only the pages above the leaf level (no
--          density, no record count) and is what a status call can afford. Heaps, system tables
--          and objects outside dbo are left out: the ALTER INDEX statements reach [dbo] objects only.
-- params: @mode nvarchar(8)
-- returns: TableName, IndexName, IndexId, TypeDesc, FillFactor, AllowPageLocks, Fragmentation,
--          PageDensity, PageCount, RecordCount
-- writes: no
SET NOCOUNT ON;
DECLARE @mode nvarchar(8) = ?;
SELECT
    o.name AS TableName,
    i.name AS IndexName,
    i.index_id AS IndexId,
    i.type_desc AS TypeDesc,
    i.fill_factor AS [FillFactor],
    i.allow_page_locks AS AllowPageLocks,
    ps.avg_fragmentation_in_percent AS Fragmentation,
    ps.avg_page_space_used_in_percent AS PageDensity,
    ps.page_count AS PageCount,
    ps.record_count AS RecordCount
FROM sys.dm_db_index_physical_stats(DB_ID(), NULL, NULL, NULL, @mode) AS ps
JOIN sys.indexes AS i ON i.object_id = ps.object_id AND i.index_id = ps.index_id
JOIN sys.objects AS o ON o.object_id = ps.object_id
WHERE ps.index_level = 0
  AND ps.alloc_unit_type_desc = 'IN_ROW_DATA'
  AND i.index_id > 0
  AND o.is_ms_shipped = 0
  AND o.type = 'U'
  AND o.schema_id = SCHEMA_ID(N'dbo');
