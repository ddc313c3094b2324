-- name: kpi_table_rows
-- summary: Rows in tbEventInstance (KB 909131: client reporting times out above a million) and
--          registered computers, from sys.dm_db_partition_stats: row counts kept in metadata, so a
--          status call does not read a table of millions of rows.
-- params: none
-- returns: EventInstanceRows, Computers
-- writes: no
SET NOCOUNT ON;
SELECT
    (SELECT SUM(ps.row_count) FROM sys.dm_db_partition_stats AS ps
     WHERE ps.object_id = OBJECT_ID(N'dbo.tbEventInstance') AND ps.index_id IN (0, 1)) AS EventInstanceRows,
    (SELECT SUM(ps.row_count) FROM sys.dm_db_partition_stats AS ps
     WHERE ps.object_id = OBJECT_ID(N'dbo.tbComputerTarget') AND ps.index_id IN (0, 1)) AS Computers;
