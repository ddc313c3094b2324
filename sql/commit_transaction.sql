-- name: commit_transaction
-- summary: Commit the transaction begin_transaction opened.
-- params: none
-- returns: none
-- effect: once
-- writes: yes
-- dry run: no rows
SET NOCOUNT ON;
COMMIT TRANSACTION;
