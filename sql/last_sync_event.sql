-- name: last_sync_event
-- summary: The last WSUS synchronization event (tbEventInstance, EventNamespaceID 2 and the six
--          event IDs of Microsoft's "clear the synchronization history" script) and how many
--          minutes ago it was, against UTC and against the server's local time: whether
--          TimeAtServer is UTC is not public. Microsoft asks that no synchronization runs during
--          maintenance (wsus-maintenance-guide); SUSDB has no documented "sync running" flag, so a
--          recent sync event is the sign that one is running or just ran.
-- params: none
-- returns: LastSyncEvent, MinutesAgoUtc, MinutesAgoLocal
-- writes: no
SET NOCOUNT ON;
SELECT MAX(e.TimeAtServer) AS LastSyncEvent,
       DATEDIFF(minute, MAX(e.TimeAtServer), GETUTCDATE()) AS MinutesAgoUtc,
       DATEDIFF(minute, MAX(e.TimeAtServer), GETDATE()) AS MinutesAgoLocal
FROM dbo.tbEventInstance AS e
WHERE e.EventNamespaceID = 2
  AND e.EventID IN (381, 382, 384, 386, 387, 389);
