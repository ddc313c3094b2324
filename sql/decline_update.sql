-- name: decline_update
-- summary: Decline one update through WSUS's own procedure, and read back in the same round trip
--          what the server now holds: whether the update still exists and whether its latest
--          revision is declined. Only a decline confirmed here is recorded as made: an update
--          deleted in the meantime (obsolete cleanup) is "gone", whether spDeclineUpdate
--          refuses it or ignores it (its behaviour on a missing update is not public).
--          @failIfReplica = 1 always: on a replica the approvals belong to the upstream server.
-- params: @updateID uniqueidentifier, @adminName nvarchar(385)
-- returns: Present (0 or 1), Declined (0 or 1)
-- effect: once
SET NOCOUNT ON;
DECLARE @updateID uniqueidentifier = ?;
DECLARE @adminName nvarchar(385) = ?;
EXEC dbo.spDeclineUpdate @updateID = @updateID, @adminName = @adminName, @failIfReplica = 1;
SELECT (SELECT COUNT(*) FROM dbo.tbUpdate AS u WHERE u.UpdateID = @updateID) AS Present,
       (SELECT COALESCE(MAX(CAST(mu.Declined AS int)), 0)
        FROM dbo.vwMinimalUpdate AS mu
        WHERE mu.UpdateID = @updateID AND mu.IsLatestRevision = 1) AS Declined;
