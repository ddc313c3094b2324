-- name: decline_update
-- summary: Decline one update through WSUS's own procedure, only if it is still to be done, and
--          read back in the same round trip what the server held and holds. The check and the
--          call run in one batch on the session that holds the run's application lock, so no
--          local record (a state file restored from a copy, a lost WAL) can make the tool decline
--          an update twice: an update already declined, or deleted in the meantime (obsolete
--          cleanup), is not sent again, and Sent says so. Only a decline confirmed here is
--          recorded as made. @failIfReplica = 1 always: on a replica the approvals belong to the
--          upstream server.
-- params: @updateID uniqueidentifier, @adminName nvarchar(385)
-- returns: Sent (0 or 1), Present (0 or 1), Declined (0 or 1)
-- effect: once
-- writes: yes
-- dry run: Sent = 1, Present = 1, Declined = 1
-- dry run then: superseded_updates, expired_updates, undeclined_update_categories leave out
--          UpdateID = @updateID; superseding_updates, update_liveness set Declined = 1 where
--          SupersedingUpdateID = @updateID
SET NOCOUNT ON;
DECLARE @updateID uniqueidentifier = ?;
DECLARE @adminName nvarchar(385) = ?;
DECLARE @toDo int = (SELECT COUNT(*)
                     FROM dbo.vwMinimalUpdate AS mu
                     WHERE mu.UpdateID = @updateID AND mu.IsLatestRevision = 1
                       AND mu.Declined = 0);
IF @toDo > 0 EXEC dbo.spDeclineUpdate @updateID = @updateID, @adminName = @adminName, @failIfReplica = 1;
SELECT CASE WHEN @toDo > 0 THEN 1 ELSE 0 END AS Sent,
       (SELECT COUNT(*) FROM dbo.tbUpdate AS u WHERE u.UpdateID = @updateID) AS Present,
       (SELECT COALESCE(MAX(CAST(mu.Declined AS int)), 0)
        FROM dbo.vwMinimalUpdate AS mu
        WHERE mu.UpdateID = @updateID AND mu.IsLatestRevision = 1) AS Declined;
