-- name: delete_update
-- summary: Delete one obsolete update with WSUS's own procedure (one update, its own transaction).
-- params: @localUpdateID int
-- returns: none
-- effect: once
SET NOCOUNT ON;
EXEC dbo.spDeleteUpdate @localUpdateID = ?;
