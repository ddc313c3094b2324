-- name: superseding_updates
-- summary: Supersedences between updates at their latest revisions, with what decides whether
--          the superseding update is alive: whether it is declined (vwMinimalUpdate, as Microsoft's
--          decline SQL reads it), expired (tbProperty.PublicationState = 1, as expired_updates
--          reads it), approved for install (an Install deployment, ActionID 0, of its latest
--          revision to a computer group), and its title (a preview is alive only when approved).
--          @updateID NULL: every supersedence, which the decline stage walks up from each
--          superseded candidate (declined only while some update superseding it, directly or
--          through a chain, is alive). @updateID given: the updates that directly supersede that
--          one, read right before a queued "superseded" decline is sent and walked up a link a
--          round trip (T-SQL's recursive CTE member must be UNION ALL, and the monthly B/D/B
--          diamonds would double its rows at every link). RECOMPILE: the two uses want
--          different plans.
-- params: @updateID uniqueidentifier NULL
-- returns: SupersededUpdateID, SupersedingUpdateID, Declined, Expired, Approved, Title, KBArticle,
--          CreationDate, Offered (explicitly deployable and not hidden: a superseder clients are
--          never offered covers nothing)
-- writes: no
SET NOCOUNT ON;
DECLARE @updateID uniqueidentifier = ?;
SELECT s.SupersededUpdateID, u.UpdateID AS SupersedingUpdateID,
       CAST(mu.Declined AS int) AS Declined,
       CASE WHEN p.PublicationState = 1 THEN 1 ELSE 0 END AS Expired,
       CASE WHEN EXISTS (SELECT 1 FROM dbo.tbDeployment AS d
                         WHERE d.RevisionID = r.RevisionID AND d.ActionID = 0)
            THEN 1 ELSE 0 END AS Approved,
       (SELECT TOP (1) lp.Title
        FROM dbo.tbLocalizedPropertyForRevision AS lpr
        JOIN dbo.tbLocalizedProperty AS lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID
        WHERE lpr.RevisionID = r.RevisionID AND lpr.LanguageID = p.DefaultPropertiesLanguageID) AS Title,
       (SELECT TOP (1) k.KBArticleID
        FROM dbo.tbKBArticleForRevision AS k
        WHERE k.RevisionID = r.RevisionID ORDER BY k.KBArticleID) AS KBArticle,
       p.CreationDate,
       CASE WHEN p.ExplicitlyDeployable = 1 AND u.IsHidden = 0 THEN 1 ELSE 0 END AS Offered
FROM dbo.tbRevisionSupersedesUpdate AS s
JOIN dbo.tbRevision AS r ON r.RevisionID = s.RevisionID AND r.IsLatestRevision = 1
JOIN dbo.tbUpdate AS u ON u.LocalUpdateID = r.LocalUpdateID
JOIN dbo.tbProperty AS p ON p.RevisionID = r.RevisionID
JOIN dbo.vwMinimalUpdate AS mu ON mu.UpdateID = u.UpdateID AND mu.IsLatestRevision = 1
WHERE (@updateID IS NULL OR s.SupersededUpdateID = @updateID)
OPTION (RECOMPILE);
