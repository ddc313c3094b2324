-- name: sync_history_backlog
-- summary: Synchronization-history events older than the retention (the six event IDs of
--          Microsoft's "clear the synchronization history" script).
-- params: @retentionDays int
-- returns: Backlog
-- writes: no
SET NOCOUNT ON;
DECLARE @retentionDays int = ?;
SELECT COUNT(*) AS Backlog
FROM dbo.tbEventInstance AS e
WHERE e.EventNamespaceID = 2
  AND e.EventID IN (381, 382, 384, 386, 387, 389)
  AND e.TimeAtServer < DATEADD(day, -@retentionDays, GETUTCDATE());
