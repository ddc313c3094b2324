-- name: update_is_declined
-- summary: What the server holds for one update: whether it still exists, and whether its latest
--          revision is declined. How an item that may have reached the server (a run killed in
--          flight, a lost reply, a timeout) is settled before anything is sent again, and how a
--          deleted update is told apart from a declined one. DeclinedBy: the @adminName its
--          decline was made with (spDeclineUpdate's Block deployment, ActionID 2, of the latest
--          revision; NULL when not declined), so a decline found made is told apart from one
--          another run or host made (an inference from tbDeployment.AdminName's nvarchar(385),
--          the type of spDeclineUpdate's @adminName: shared/reference/susdb-internals.md).
-- params: @updateID uniqueidentifier
-- returns: Present (0 or 1), Declined (0 or 1), DeclinedBy (nvarchar or NULL)
-- writes: no
SET NOCOUNT ON;
DECLARE @updateID uniqueidentifier = ?;
SELECT (SELECT COUNT(*) FROM dbo.tbUpdate AS u WHERE u.UpdateID = @updateID) AS Present,
       (SELECT COALESCE(MAX(CAST(mu.Declined AS int)), 0)
        FROM dbo.vwMinimalUpdate AS mu
        WHERE mu.UpdateID = @updateID AND mu.IsLatestRevision = 1) AS Declined,
       (SELECT MAX(d.AdminName)
        FROM dbo.tbDeployment AS d
        JOIN dbo.tbRevision AS r ON r.RevisionID = d.RevisionID AND r.IsLatestRevision = 1
        JOIN dbo.tbUpdate AS u ON u.LocalUpdateID = r.LocalUpdateID
        WHERE u.UpdateID = @updateID AND d.ActionID = 2) AS DeclinedBy;
