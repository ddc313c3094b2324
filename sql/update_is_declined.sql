-- name: update_is_declined
-- summary: What the server holds for one update: whether it still exists, and whether its latest
--          revision is declined. How an item that may have reached the server (a run killed in
--          flight, a lost reply, a timeout) is settled before anything is sent again, and how a
--          deleted update is told apart from a declined one.
-- params: @updateID uniqueidentifier
-- returns: Present (0 or 1), Declined (0 or 1)
-- writes: no
SET NOCOUNT ON;
DECLARE @updateID uniqueidentifier = ?;
SELECT (SELECT COUNT(*) FROM dbo.tbUpdate AS u WHERE u.UpdateID = @updateID) AS Present,
       (SELECT COALESCE(MAX(CAST(mu.Declined AS int)), 0)
        FROM dbo.vwMinimalUpdate AS mu
        WHERE mu.UpdateID = @updateID AND mu.IsLatestRevision = 1) AS Declined;
