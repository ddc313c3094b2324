-- name: kpi_approved_updates
-- summary: Updates with a live Install approval to some computer group.
-- params: none
-- returns: Approved
-- writes: no
SET NOCOUNT ON;
SELECT COUNT(DISTINCT r.LocalUpdateID) AS Approved
FROM dbo.tbDeployment AS d
JOIN dbo.tbRevision AS r ON r.RevisionID = d.RevisionID
WHERE d.ActionID = 0;
