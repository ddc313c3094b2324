-- name: superseded_updates
-- summary: Superseded, not declined updates that clients are offered, old enough to decline, one
--          row per (update, product or classification), ordered by update.
--          Offered to clients: the latest revision, explicitly deployable, Software or Driver, not
--          hidden (Microsoft's filter in PUBLIC_VIEWS.vUpdateInstallationInfo), and not bundled in
--          another update: never a category, a detectoid or a bundled child.
--          IsSuperseded and Declined are vwMinimalUpdate's, as in Microsoft's decline SQL
--          (wsus-maintenance-guide), read at the latest revision (the view may hold one row per
--          revision). Titles, KB numbers and categories come from the base tables.
--          @lastLevelOnly = 1 keeps the superseded updates that supersede nothing themselves
--          (Decline-SupersededUpdates.ps1 -DeclineLastLevelOnly).
--          @ageFromSuperseding = 0 ages the update by its own CreationDate (Microsoft's script and
--          its SQL alternative). @ageFromSuperseding = 1 declines it once ANY update superseding it
--          was created more than @minAgeDays ago: the age counts from the OLDEST superseding update
--          (Bryan Dam's per-superseder rule; Configuration Manager ages "based on the creation date
--          of the superseding update").
--          @arrivedWithinMonths > 0 keeps only updates that arrived in the last N months
--          (tbUpdate.ImportedTime, the API's ArrivalDate: inferred), the scope of
--          Decline-SupersededUpdates.ps1 (6 months); 0 considers the whole catalog.
--          Category titles: WSUS's precomputed English title
--          (tbPrecomputedCategoryLocalizedProperty, ShortLanguage 'en'), else the category's own
--          localized title in its default language. A Product or UpdateClassification row whose
--          title resolves neither way comes back with CategoryTitle NULL and its CategoryID, so
--          the rules leave that update alone (fail closed) instead of judging it on the rest.
--          Every tbRevisionInCategory row counts, Expanded or not (its meaning is not public): an
--          extra category can only make a product rule or keep_products decline less.
--          @cleanupWizard = 1 is the WSUS Server Cleanup Wizard's rule: superseded by an update
--          approved for install (an Install deployment, ActionID 0, of its latest revision), on
--          the server for 30 days (ImportedTime), not approved itself in the last 30 days, and not
--          needed by any computer: no tbUpdateStatusPerComputer row in state 2 (NotInstalled), 3
--          (Downloaded), 5 (Failed) or 6 (InstalledPendingReboot). The states are the values of
--          the API's UpdateInstallationState, which PUBLIC_VIEWS.vUpdateInstallationInfo returns as
--          State unchanged (that the column holds the enum's numbers is inferred; a computer that
--          never reported an update has no row and does not count as needing it, as in WSUS).
--          @supersederMinAgeDays > 0 also asks that some update superseding it was created more
--          than that many days ago, whatever the age basis: Configuration Manager's supersedence
--          wait, which counts from the superseding update's creation.
--          @updateID NULL: every candidate; given: that update only, if it still is one (a queued
--          decline is judged again on the server right before it is sent).
-- params: @lastLevelOnly bit, @minAgeDays int, @ageFromSuperseding bit, @arrivedWithinMonths int,
--         @cleanupWizard bit, @supersederMinAgeDays int, @updateID uniqueidentifier NULL
-- returns: UpdateID, LocalUpdateID, Title, KBArticle, LegacyName, CategoryID, CategoryType,
--          CategoryTitle
-- writes: no
SET NOCOUNT ON;
DECLARE @lastLevelOnly bit = ?;
DECLARE @minAgeDays int = ?;
DECLARE @ageFromSuperseding bit = ?;
DECLARE @arrivedWithinMonths int = ?;
DECLARE @cleanupWizard bit = ?;
DECLARE @supersederMinAgeDays int = ?;
DECLARE @updateID uniqueidentifier = ?;
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
  AND mu.IsSuperseded = 1
  AND mu.Declined = 0
  AND (@lastLevelOnly = 0
       OR NOT EXISTS (SELECT 1 FROM dbo.tbRevisionSupersedesUpdate AS own WHERE own.RevisionID = r.RevisionID))
  AND (@arrivedWithinMonths = 0 OR u.ImportedTime >= DATEADD(month, -@arrivedWithinMonths, GETUTCDATE()))
  AND (@cleanupWizard = 0 OR (
        u.ImportedTime < DATEADD(day, -30, GETUTCDATE())
    AND NOT EXISTS (SELECT 1 FROM dbo.tbUpdateStatusPerComputer AS us
                    WHERE us.LocalUpdateID = u.LocalUpdateID AND us.SummarizationState IN (2, 3, 5, 6))
    AND NOT EXISTS (SELECT 1 FROM dbo.tbDeployment AS own
                    WHERE own.RevisionID = r.RevisionID AND own.ActionID = 0
                      AND own.DeploymentTime >= DATEADD(day, -30, GETUTCDATE()))
    AND EXISTS (SELECT 1
                FROM dbo.tbRevisionSupersedesUpdate AS sa
                JOIN dbo.tbRevision AS ra ON ra.RevisionID = sa.RevisionID AND ra.IsLatestRevision = 1
                JOIN dbo.tbDeployment AS da ON da.RevisionID = ra.RevisionID AND da.ActionID = 0
                WHERE sa.SupersededUpdateID = u.UpdateID)))
  AND (
        (@ageFromSuperseding = 0 AND p.CreationDate < DATEADD(day, -@minAgeDays, GETUTCDATE()))
     OR (@ageFromSuperseding = 1 AND EXISTS (
            SELECT 1
            FROM dbo.tbRevisionSupersedesUpdate AS s
            JOIN dbo.tbRevision AS rs ON rs.RevisionID = s.RevisionID AND rs.IsLatestRevision = 1
            JOIN dbo.tbProperty AS ps ON ps.RevisionID = rs.RevisionID
            WHERE s.SupersededUpdateID = u.UpdateID
              AND ps.CreationDate < DATEADD(day, -@minAgeDays, GETUTCDATE())))
  )
  AND (@supersederMinAgeDays = 0 OR EXISTS (
            SELECT 1
            FROM dbo.tbRevisionSupersedesUpdate AS sw
            JOIN dbo.tbRevision AS rw ON rw.RevisionID = sw.RevisionID AND rw.IsLatestRevision = 1
            JOIN dbo.tbProperty AS pw ON pw.RevisionID = rw.RevisionID
            WHERE sw.SupersededUpdateID = u.UpdateID
              AND pw.CreationDate < DATEADD(day, -@supersederMinAgeDays, GETUTCDATE())))
  AND (@updateID IS NULL OR u.UpdateID = @updateID)
ORDER BY u.LocalUpdateID
OPTION (RECOMPILE);
