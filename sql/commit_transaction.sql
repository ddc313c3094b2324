-- name: commit_transaction
-- summary: Commit the transaction begin_transaction opened.
-- params: none
-- returns: none
-- effect: once
SET NOCOUNT ON;
COMMIT TRANSACTION;
