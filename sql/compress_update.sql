-- name: compress_update
-- summary: Remove the obsolete revisions of one update, only if it still has some: an older
--          revision that nothing deploys, bundles or requires (the count update_old_revisions
--          reads). The check and the call run in one batch on the session that holds the run's
--          application lock, so no local record (a state file restored from a copy) can make the
--          tool compress an update twice. Sent says whether the procedure was called.
-- params: @localUpdateID int
-- returns: Sent (0 or 1), OldRevisions (after the call)
-- effect: once
-- writes: yes
-- dry run: Sent = 1, OldRevisions = 0
-- dry run then: updates_to_compress leave out column 0 = @localUpdateID
SET NOCOUNT ON;
DECLARE @localUpdateID int = ?;
DECLARE @toDo int = (SELECT COUNT(*)
                     FROM dbo.tbRevision AS r
                     WHERE r.LocalUpdateID = @localUpdateID
                       AND r.IsLatestRevision = 0
                       AND NOT EXISTS (SELECT 1 FROM dbo.tbDeployment AS d WHERE d.RevisionID = r.RevisionID)
                       AND NOT EXISTS (SELECT 1 FROM dbo.tbBundleDependency AS b WHERE b.BundledRevisionID = r.RevisionID)
                       AND NOT EXISTS (SELECT 1 FROM dbo.tbPrerequisiteDependency AS p WHERE p.PrerequisiteRevisionID = r.RevisionID));
IF @toDo > 0 EXEC dbo.spCompressUpdate @localUpdateID = @localUpdateID;
SELECT CASE WHEN @toDo > 0 THEN 1 ELSE 0 END AS Sent,
       (SELECT COUNT(*)
        FROM dbo.tbRevision AS r
        WHERE r.LocalUpdateID = @localUpdateID
          AND r.IsLatestRevision = 0
          AND NOT EXISTS (SELECT 1 FROM dbo.tbDeployment AS d WHERE d.RevisionID = r.RevisionID)
          AND NOT EXISTS (SELECT 1 FROM dbo.tbBundleDependency AS b WHERE b.BundledRevisionID = r.RevisionID)
          AND NOT EXISTS (SELECT 1 FROM dbo.tbPrerequisiteDependency AS p WHERE p.PrerequisiteRevisionID = r.RevisionID)) AS OldRevisions;
