-- name: expired_updates
-- summary: Expired (PublicationState = 1), deployable, not declined updates.
-- params: none
-- returns: UpdateID, LocalUpdateID, Title, KBArticle, CreationDate
SET NOCOUNT ON;
SELECT mu.UpdateID, mu.LocalUpdateID, v.DefaultTitle AS Title, v.KnowledgebaseArticle AS KBArticle,
       mu.CreationDate
FROM dbo.vwMinimalUpdate AS mu
JOIN PUBLIC_VIEWS.vUpdate AS v ON v.UpdateId = mu.UpdateID
WHERE v.PublicationState = 1
  AND mu.Declined = 0
  AND mu.IsLatestRevision = 1
ORDER BY mu.LocalUpdateID;
