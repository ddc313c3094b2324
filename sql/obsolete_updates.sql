-- name: obsolete_updates
-- summary: WSUS's own list of obsolete updates (expired, unapproved, older than
--          tbConfigurationC.RevisionDeletionTimeThreshold days, referenced by nothing). It scans
--          the whole catalog: run once per queue, never per batch.
-- params: none
-- returns: LocalUpdateID (named so in the body captured from a live server), read by position
--          (column 0) all the same.
-- writes: no
SET NOCOUNT ON;
EXEC dbo.spGetObsoleteUpdatesToCleanup;
