-- name: kpi_update_counts
-- summary: Catalog size as clients see it: every update, the ones not declined (what clients
--          scan), superseded and not declined (Microsoft: above 1500 causes problems).
-- params: none
-- returns: TotalUpdates, NotDeclined, SupersededNotDeclined, Declined
SET NOCOUNT ON;
SELECT COUNT(*) AS TotalUpdates,
       COALESCE(SUM(CASE WHEN mu.Declined = 0 THEN 1 ELSE 0 END), 0) AS NotDeclined,
       COALESCE(SUM(CASE WHEN mu.IsSuperseded = 1 AND mu.Declined = 0 THEN 1 ELSE 0 END), 0) AS SupersededNotDeclined,
       COALESCE(SUM(CASE WHEN mu.Declined = 1 THEN 1 ELSE 0 END), 0) AS Declined
FROM dbo.vwMinimalUpdate AS mu
WHERE mu.IsLatestRevision = 1;
