-- name: index_key_columns
-- summary: Nonclustered indexes on the two tables Microsoft recommends custom indexes for, with
--          their leading key column: an index counts by its leading column, whatever its name.
-- params: none
-- returns: TableName, IndexName, LeadingColumn
-- writes: no
SET NOCOUNT ON;
SELECT o.name AS TableName, i.name AS IndexName, c.name AS LeadingColumn
FROM sys.indexes AS i
JOIN sys.objects AS o ON o.object_id = i.object_id
JOIN sys.index_columns AS ic
    ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal = 1
JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE i.object_id IN (OBJECT_ID(N'dbo.tbLocalizedPropertyForRevision'), OBJECT_ID(N'dbo.tbRevisionSupersedesUpdate'))
  AND i.index_id > 1;
