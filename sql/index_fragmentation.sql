-- name: index_fragmentation
-- summary: One row per index at the leaf level, from sys.dm_db_index_physical_stats in SAMPLED
--          mode (LIMITED leaves page density and record counts NULL). Heaps are left out.
-- params: none
-- returns: TableName, IndexName, IndexId, TypeDesc, FillFactor, Fragmentation, PageDensity,
--          PageCount, RecordCount
SET NOCOUNT ON;
SELECT
    o.name AS TableName,
    i.name AS IndexName,
    i.index_id AS IndexId,
    i.type_desc AS TypeDesc,
    i.fill_factor AS [FillFactor],
    ps.avg_fragmentation_in_percent AS Fragmentation,
    ps.avg_page_space_used_in_percent AS PageDensity,
    ps.page_count AS PageCount,
    ps.record_count AS RecordCount
FROM sys.dm_db_index_physical_stats(DB_ID(), NULL, NULL, NULL, 'SAMPLED') AS ps
JOIN sys.indexes AS i ON i.object_id = ps.object_id AND i.index_id = ps.index_id
JOIN sys.objects AS o ON o.object_id = ps.object_id
WHERE ps.index_level = 0
  AND ps.alloc_unit_type_desc = 'IN_ROW_DATA'
  AND i.index_id > 0
  AND o.is_ms_shipped = 0;
