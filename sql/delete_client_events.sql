-- name: delete_client_events
-- summary: Delete at most @batchRows client reporting events older than the retention (the test
--          of client_events_backlog: a computer's event with a documented client event ID,
--          outside the server's namespace 2; a NULL ComputerID or TimeAtServer fails it too).
--          Small DELETE TOP batches keep the log small and the locks below escalation on a table
--          client reporting writes to all the time, as delete_sync_history does.
-- params: @batchRows int, @retentionDays int
-- returns: Deleted
-- writes: yes
-- dry run: Deleted = @batchRows
SET NOCOUNT ON;
DECLARE @batchRows int = ?;
DECLARE @retentionDays int = ?;
DELETE TOP (@batchRows) FROM dbo.tbEventInstance
WHERE EventNamespaceID <> 2
  AND EventID IN (147, 148, 161, 162, 163, 184, 186, 197, 198, 199, 200)
  AND ComputerID <> N''
  AND TimeAtServer < DATEADD(day, -@retentionDays, GETUTCDATE());
SELECT @@ROWCOUNT AS Deleted;
