-- name: rollback_open_transaction
-- summary: After a cancelled or failed statement: how many transactions the session still has
--          open (a WSUS procedure's own BEGIN TRANSACTION survives a cancel), and roll them back,
--          so nothing later nests inside them and is rolled back unseen.
-- params: none
-- returns: OpenTransactions (before the rollback)
-- writes: yes
-- dry run: OpenTransactions = 0 (a dry run begins none: begin_transaction is not sent)
SET NOCOUNT ON;
SELECT @@TRANCOUNT AS OpenTransactions;
IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
