-- name: update_old_revisions
-- summary: How many older (not latest) revisions of an update nothing references any more: how a
--          resumed run settles a compression that was in flight when the previous run died. A
--          revision still deployed, bundled or required stays, so it does not count.
-- params: @localUpdateID int
-- returns: OldRevisions
-- writes: no
SET NOCOUNT ON;
DECLARE @localUpdateID int = ?;
SELECT COUNT(*) AS OldRevisions
FROM dbo.tbRevision AS r
WHERE r.LocalUpdateID = @localUpdateID
  AND r.IsLatestRevision = 0
  AND NOT EXISTS (SELECT 1 FROM dbo.tbDeployment AS d WHERE d.RevisionID = r.RevisionID)
  AND NOT EXISTS (SELECT 1 FROM dbo.tbBundleDependency AS b WHERE b.BundledRevisionID = r.RevisionID)
  AND NOT EXISTS (SELECT 1 FROM dbo.tbPrerequisiteDependency AS p WHERE p.PrerequisiteRevisionID = r.RevisionID);
