-- name: update_titles
-- summary: The KB article and title (its latest revision's, in its default language) of each
--          update whose LocalUpdateID lies in a range: how `plan --items` names the updates the
--          obsolete-update and compression queues know by LocalUpdateID only. Asked for ranges
--          of the wanted IDs, so a long list costs a few round trips, not one per update.
-- params: @first int, @last int
-- returns: LocalUpdateID, KBArticle, Title
-- writes: no
SET NOCOUNT ON;
DECLARE @first int = ?;
DECLARE @last int = ?;
SELECT u.LocalUpdateID,
       (SELECT TOP (1) k.KBArticleID
        FROM dbo.tbKBArticleForRevision AS k
        WHERE k.RevisionID = r.RevisionID ORDER BY k.KBArticleID) AS KBArticle,
       (SELECT TOP (1) lp.Title
        FROM dbo.tbLocalizedPropertyForRevision AS lpr
        JOIN dbo.tbLocalizedProperty AS lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID
        WHERE lpr.RevisionID = r.RevisionID AND lpr.LanguageID = p.DefaultPropertiesLanguageID) AS Title
FROM dbo.tbUpdate AS u
JOIN dbo.tbRevision AS r ON r.LocalUpdateID = u.LocalUpdateID AND r.IsLatestRevision = 1
JOIN dbo.tbProperty AS p ON p.RevisionID = r.RevisionID
WHERE u.LocalUpdateID BETWEEN @first AND @last
ORDER BY u.LocalUpdateID;
