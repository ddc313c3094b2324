-- name: compress_update
-- summary: Remove the obsolete revisions of one update.
-- params: @localUpdateID int
-- returns: none
-- effect: once
SET NOCOUNT ON;
EXEC dbo.spCompressUpdate @localUpdateID = ?;
