-- name: product_titles
-- summary: The titles of the server's product categories (the Products list of the WSUS
--          console's Options), so a keep_products entry that names no product on this server is
--          refused instead of declining everything.
-- params: none
-- returns: Title
SET NOCOUNT ON;
SELECT DISTINCT lp.Title
FROM dbo.tbCategory AS c
JOIN dbo.tbRevision AS r ON r.LocalUpdateID = c.CategoryID AND r.IsLatestRevision = 1
JOIN dbo.tbProperty AS p ON p.RevisionID = r.RevisionID
JOIN dbo.tbLocalizedPropertyForRevision AS lpr
    ON lpr.RevisionID = r.RevisionID AND lpr.LanguageID = p.DefaultPropertiesLanguageID
JOIN dbo.tbLocalizedProperty AS lp ON lp.LocalizedPropertyID = lpr.LocalizedPropertyID
WHERE c.CategoryType = N'Product'
ORDER BY lp.Title;
