-- name: expired_updates
-- summary: Expired, not declined updates that clients are offered, one row per (update, product or
--          classification), ordered by update. Expired is read where its meaning is proven:
--          tbProperty.PublicationState = 1 on the latest revision (the body of
--          spGetObsoleteUpdatesToCleanup captured from a live server), never from
--          PUBLIC_VIEWS.vUpdate.PublicationState, whose type is not public (the API's enum is
--          Published / Expired). The same client-visible filter as superseded_updates: never a
--          category, a detectoid, a hidden update or a bundled child.
--          Category titles: WSUS's precomputed English title
--          (tbPrecomputedCategoryLocalizedProperty, ShortLanguage 'en'), else the category's own
--          localized title in its default language. A Product or UpdateClassification row whose
--          title resolves neither way comes back with CategoryTitle NULL and its CategoryID, so
--          the rules leave that update alone (fail closed) instead of judging it on the rest.
--          Every tbRevisionInCategory row counts, Expanded or not (its meaning is not public): an
--          extra category can only make a product rule or keep_products decline less.
-- params: none
-- returns: UpdateID, LocalUpdateID, Title, KBArticle, LegacyName, CategoryID, CategoryType,
--          CategoryTitle
-- writes: no
SET NOCOUNT ON;
SELECT u.UpdateID, u.LocalUpdateID,
       (SELECT TOP (1) lp.Title
        FROM dbo.tbLocalizedPropertyForRevision AS lpr
        JOIN dbo.tbLocalizedProperty AS lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID
        WHERE lpr.RevisionID = r.RevisionID AND lpr.LanguageID = p.DefaultPropertiesLanguageID) AS Title,
       (SELECT TOP (1) k.KBArticleID
        FROM dbo.tbKBArticleForRevision AS k
        WHERE k.RevisionID = r.RevisionID ORDER BY k.KBArticleID) AS KBArticle,
       u.LegacyName, c.CategoryID, c.CategoryType,
       COALESCE(pc.Title, clp.Title) AS CategoryTitle
FROM dbo.tbUpdate AS u
JOIN dbo.tbRevision AS r ON r.LocalUpdateID = u.LocalUpdateID AND r.IsLatestRevision = 1
JOIN dbo.tbProperty AS p ON p.RevisionID = r.RevisionID
JOIN dbo.vwMinimalUpdate AS mu ON mu.UpdateID = u.UpdateID AND mu.IsLatestRevision = 1
LEFT JOIN dbo.tbRevisionInCategory AS ric ON ric.RevisionID = r.RevisionID
LEFT JOIN dbo.tbCategory AS c
    ON c.CategoryID = ric.CategoryID AND c.CategoryType IN (N'Product', N'UpdateClassification')
LEFT JOIN dbo.tbRevision AS cr ON cr.LocalUpdateID = c.CategoryID AND cr.IsLatestRevision = 1
LEFT JOIN dbo.tbProperty AS cp ON cp.RevisionID = cr.RevisionID
LEFT JOIN dbo.tbLocalizedPropertyForRevision AS clpr
    ON clpr.RevisionID = cr.RevisionID AND clpr.LanguageID = cp.DefaultPropertiesLanguageID
LEFT JOIN dbo.tbLocalizedProperty AS clp ON clp.LocalizedPropertyID = clpr.LocalizedPropertyID
LEFT JOIN dbo.tbPrecomputedCategoryLocalizedProperty AS pc
    ON pc.CategoryID = c.CategoryID AND pc.ShortLanguage = N'en'
WHERE p.ExplicitlyDeployable = 1
  AND p.UpdateType IN (N'Software', N'Driver')
  AND u.IsHidden = 0
  AND NOT EXISTS (SELECT 1 FROM dbo.tbBundleDependency AS b WHERE b.BundledRevisionID = r.RevisionID)
  AND p.PublicationState = 1
  AND mu.Declined = 0
ORDER BY u.LocalUpdateID;
