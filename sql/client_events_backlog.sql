-- name: client_events_backlog
-- summary: Client reporting events older than the retention: exactly the rows
--          delete_client_events removes, by the same test. A client's report names the computer
--          that sent it (ComputerID) and carries a client event ID of WSUS's API (WsusEventId,
--          https://learn.microsoft.com/previous-versions/ms825099(v=msdn.10): 147/148 detection
--          complete/failed, 161/162/163 download failed/succeeded/canceled, 184 installed with
--          reboot, 186 installation canceled, 197-200 installation at shutdown); namespace 2,
--          where the server keeps its synchronization events (Microsoft's sync-history script),
--          is never counted. Which namespace WSUS keeps client events in is not public
--          (jobs/stages/client_events.py).
-- params: @retentionDays int
-- returns: Backlog
-- writes: no
SET NOCOUNT ON;
DECLARE @retentionDays int = ?;
SELECT COUNT_BIG(*) AS Backlog
FROM dbo.tbEventInstance AS e
WHERE e.EventNamespaceID <> 2
  AND e.EventID IN (147, 148, 161, 162, 163, 184, 186, 197, 198, 199, 200)
  AND e.ComputerID <> N''
  AND e.TimeAtServer < DATEADD(day, -@retentionDays, GETUTCDATE());
