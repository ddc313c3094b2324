-- name: product_titles
-- summary: The titles of the server's product categories (the Products list of the WSUS
--          console's Options), so a keep_products entry that names no product on this server is
--          refused instead of declining everything. Titles resolve as in the candidate queries:
--          WSUS's precomputed English title, else the category's own default-language title.
-- params: none
-- returns: Title
-- writes: no
SET NOCOUNT ON;
SELECT DISTINCT COALESCE(pc.Title, lp.Title) AS Title
FROM dbo.tbCategory AS c
JOIN dbo.tbRevision AS r ON r.LocalUpdateID = c.CategoryID AND r.IsLatestRevision = 1
JOIN dbo.tbProperty AS p ON p.RevisionID = r.RevisionID
LEFT JOIN dbo.tbLocalizedPropertyForRevision AS lpr
    ON lpr.RevisionID = r.RevisionID AND lpr.LanguageID = p.DefaultPropertiesLanguageID
LEFT JOIN dbo.tbLocalizedProperty AS lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID
LEFT JOIN dbo.tbPrecomputedCategoryLocalizedProperty AS pc
    ON pc.CategoryID = c.CategoryID AND pc.ShortLanguage = N'en'
WHERE c.CategoryType = N'Product'
  AND COALESCE(pc.Title, lp.Title) IS NOT NULL
ORDER BY Title;
