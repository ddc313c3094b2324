-- name: update_liveness
-- summary: One update as a superseder, by its UpdateID, at its latest revision: the columns of
--          superseding_updates (declined, expired, approved for install, title, KB, creation
--          date, offered to clients). Read right before a superseded decline queued this run is
--          sent: if the update that covered it when the queue was built is still alive, the
--          decision holds; if not, the whole chain is walked again (superseding_updates).
-- params: @updateID uniqueidentifier
-- returns: SupersedingUpdateID, Declined, Expired, Approved, Title, KBArticle, CreationDate, Offered
-- writes: no
SET NOCOUNT ON;
DECLARE @updateID uniqueidentifier = ?;
SELECT u.UpdateID AS SupersedingUpdateID,
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
FROM dbo.tbUpdate AS u
JOIN dbo.tbRevision AS r ON r.LocalUpdateID = u.LocalUpdateID AND r.IsLatestRevision = 1
JOIN dbo.tbProperty AS p ON p.RevisionID = r.RevisionID
JOIN dbo.vwMinimalUpdate AS mu ON mu.UpdateID = u.UpdateID AND mu.IsLatestRevision = 1
WHERE u.UpdateID = @updateID;
