-- name: delete_sync_history
-- summary: Delete at most @batchRows synchronization-history events older than the retention.
--          Small DELETE TOP batches keep the log and the locks small on a table that can hold
--          millions of rows.
-- params: @batchRows int, @retentionDays int
-- returns: Deleted
-- writes: yes
-- dry run: Deleted = @batchRows
SET NOCOUNT ON;
DECLARE @batchRows int = ?;
DECLARE @retentionDays int = ?;
DELETE TOP (@batchRows) FROM dbo.tbEventInstance
WHERE EventNamespaceID = 2
  AND EventID IN (381, 382, 384, 386, 387, 389)
  AND TimeAtServer < DATEADD(day, -@retentionDays, GETUTCDATE());
SELECT @@ROWCOUNT AS Deleted;
