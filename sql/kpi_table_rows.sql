-- name: kpi_table_rows
-- summary: Rows in tbEventInstance (KB 909131: client reporting times out above a million) and
--          registered computers.
-- params: none
-- returns: EventInstanceRows, Computers
SET NOCOUNT ON;
SELECT (SELECT COUNT_BIG(*) FROM dbo.tbEventInstance) AS EventInstanceRows,
       (SELECT COUNT_BIG(*) FROM dbo.tbComputerTarget) AS Computers;
