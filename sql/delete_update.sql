-- name: delete_update
-- summary: Delete one obsolete update with WSUS's own procedure (one update, its own
--          transaction), only if the update still exists: the check and the call run in one
--          batch on the session that holds the run's application lock, so no local record (a
--          state file restored from a copy) can make the tool delete an update twice. Sent says
--          whether the procedure was called; Present whether the update is still there after.
-- params: @localUpdateID int
-- returns: Sent (0 or 1), Present (0 or 1)
-- effect: once
-- writes: yes
-- dry run: Sent = 1, Present = 0
-- dry run then: obsolete_updates, updates_to_compress leave out column 0 = @localUpdateID
SET NOCOUNT ON;
DECLARE @localUpdateID int = ?;
DECLARE @toDo int = (SELECT COUNT(*) FROM dbo.tbUpdate AS u WHERE u.LocalUpdateID = @localUpdateID);
IF @toDo > 0 EXEC dbo.spDeleteUpdate @localUpdateID = @localUpdateID;
SELECT CASE WHEN @toDo > 0 THEN 1 ELSE 0 END AS Sent,
       (SELECT COUNT(*) FROM dbo.tbUpdate AS u WHERE u.LocalUpdateID = @localUpdateID) AS Present;
