-- name: updates_to_compress
-- summary: Updates whose obsolete revisions WSUS can remove (the wizard's "update revisions").
-- params: none
-- returns: LocalUpdateID
SET NOCOUNT ON;
EXEC dbo.spGetUpdatesToCompress;
