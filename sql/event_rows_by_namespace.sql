-- name: event_rows_by_namespace
-- summary: tbEventInstance rows per event namespace, with the namespace's name from
--          tbEventNamespace (none for a namespace it does not list). Client reporting times out
--          above a million rows (KB 909131); this says which namespace holds them. An index-only
--          count: the narrow index on (EventNamespaceID, EventID) holds every row
--          (nc_EventNamespaceID_EventID in the EF Core scaffold of a live SUSDB), so the table's
--          ntext pages are not read, but every row of that index is: a nightly or on-demand
--          read, not one for every status call (kpi_table_rows has the total from metadata).
-- params: none
-- returns: EventNamespaceID, DisplayName, EventRows
-- writes: no
SET NOCOUNT ON;
SELECT c.EventNamespaceID, n.DisplayNameString AS DisplayName, c.EventRows
FROM (SELECT e.EventNamespaceID, COUNT_BIG(*) AS EventRows
      FROM dbo.tbEventInstance AS e
      GROUP BY e.EventNamespaceID) AS c
LEFT JOIN dbo.tbEventNamespace AS n ON n.EventNamespaceID = c.EventNamespaceID
ORDER BY c.EventNamespaceID;
