-- name: undeclined_update_categories
-- summary: Every not-declined update (what clients scan) with its legacy name and the titles of
--          its product and classification categories, one row per (update, category), ordered
--          by update, for the title / product / classification decline rules.
-- params: none
-- returns: UpdateID, LocalUpdateID, Title, KBArticle, LegacyName, CategoryType, CategoryTitle
SET NOCOUNT ON;
SELECT mu.UpdateID, mu.LocalUpdateID, v.DefaultTitle AS Title, v.KnowledgebaseArticle AS KBArticle,
       mu.LegacyName, c.CategoryType, lp.Title AS CategoryTitle
FROM dbo.vwMinimalUpdate AS mu
JOIN PUBLIC_VIEWS.vUpdate AS v ON v.UpdateId = mu.UpdateID
LEFT JOIN dbo.tbRevisionInCategory AS ric ON ric.RevisionID = mu.RevisionID
LEFT JOIN dbo.tbCategory AS c ON c.CategoryID = ric.CategoryID
LEFT JOIN dbo.tbRevision AS cr ON cr.LocalUpdateID = c.CategoryID AND cr.IsLatestRevision = 1
LEFT JOIN dbo.tbProperty AS cp ON cp.RevisionID = cr.RevisionID
LEFT JOIN dbo.tbLocalizedPropertyForRevision AS lpr
    ON lpr.RevisionID = cr.RevisionID AND lpr.LanguageID = cp.DefaultPropertiesLanguageID
LEFT JOIN dbo.tbLocalizedProperty AS lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID
WHERE mu.Declined = 0
  AND mu.IsLatestRevision = 1
ORDER BY mu.LocalUpdateID;
