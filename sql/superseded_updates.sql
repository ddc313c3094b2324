-- name: superseded_updates
-- summary: Superseded, not declined updates (latest revision) old enough to decline.
--          @lastLevelOnly = 1 keeps only the last level of each chain: superseded updates that
--          supersede nothing themselves (Decline-SupersededUpdates.ps1 -DeclineLastLevelOnly).
--          @ageFromSuperseding = 1 counts the age from the newest superseding update's creation
--          date (Configuration Manager's rule); 0 from the update's own (Microsoft's script).
-- params: @lastLevelOnly bit, @minAgeDays int, @ageFromSuperseding bit
-- returns: UpdateID, LocalUpdateID, Title, KBArticle, CreationDate
SET NOCOUNT ON;
DECLARE @lastLevelOnly bit = ?;
DECLARE @minAgeDays int = ?;
DECLARE @ageFromSuperseding bit = ?;
SELECT mu.UpdateID, mu.LocalUpdateID, v.DefaultTitle AS Title, v.KnowledgebaseArticle AS KBArticle,
       mu.CreationDate
FROM dbo.vwMinimalUpdate AS mu
JOIN PUBLIC_VIEWS.vUpdate AS v ON v.UpdateId = mu.UpdateID
WHERE mu.IsSuperseded = 1
  AND mu.Declined = 0
  AND mu.IsLatestRevision = 1
  AND (@lastLevelOnly = 0 OR mu.HasSupersededUpdates = 0)
  AND (
        (@ageFromSuperseding = 0 AND mu.CreationDate < DATEADD(day, -@minAgeDays, GETUTCDATE()))
     OR (@ageFromSuperseding = 1 AND EXISTS (
            SELECT 1
            FROM dbo.tbRevisionSupersedesUpdate AS s
            JOIN dbo.tbRevision AS rs ON rs.RevisionID = s.RevisionID AND rs.IsLatestRevision = 1
            JOIN dbo.tbProperty AS ps ON ps.RevisionID = rs.RevisionID
            WHERE s.SupersededUpdateID = mu.UpdateID
              AND ps.CreationDate < DATEADD(day, -@minAgeDays, GETUTCDATE())))
  )
ORDER BY mu.LocalUpdateID;
