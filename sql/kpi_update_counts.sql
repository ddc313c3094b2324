-- name: kpi_update_counts
-- summary: Catalog size as clients see it: the updates they are offered (latest revision,
--          explicitly deployable, Software or Driver, not hidden), those not declined (what clients
--          scan), superseded and not declined (Microsoft: above 1500 causes problems), declined.
--          Declined and IsSuperseded are vwMinimalUpdate's, read at the latest revision.
-- params: none
-- returns: TotalUpdates, NotDeclined, SupersededNotDeclined, Declined
-- writes: no
SET NOCOUNT ON;
SELECT COUNT(*) AS TotalUpdates,
       COALESCE(SUM(CASE WHEN mu.Declined = 0 THEN 1 ELSE 0 END), 0) AS NotDeclined,
       COALESCE(SUM(CASE WHEN mu.IsSuperseded = 1 AND mu.Declined = 0 THEN 1 ELSE 0 END), 0) AS SupersededNotDeclined,
       COALESCE(SUM(CASE WHEN mu.Declined = 1 THEN 1 ELSE 0 END), 0) AS Declined
FROM dbo.tbUpdate AS u
JOIN dbo.tbRevision AS r ON r.LocalUpdateID = u.LocalUpdateID AND r.IsLatestRevision = 1
JOIN dbo.tbProperty AS p ON p.RevisionID = r.RevisionID
JOIN dbo.vwMinimalUpdate AS mu ON mu.UpdateID = u.UpdateID AND mu.IsLatestRevision = 1
WHERE p.ExplicitlyDeployable = 1
  AND p.UpdateType IN (N'Software', N'Driver')
  AND u.IsHidden = 0;
