-- name: updates_to_compress
-- summary: Updates whose obsolete revisions WSUS can remove (the wizard's "update revisions").
-- params: none
-- returns: LocalUpdateID, read by position (column 0): no public source names the column
--          (public callers read column 0 or INSERT ... EXEC into their own column).
-- writes: no
SET NOCOUNT ON;
EXEC dbo.spGetUpdatesToCompress;
