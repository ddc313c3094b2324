-- name: begin_transaction
-- summary: Open a transaction of this session that spans the next statements (the computers
--          guard runs WSUS's deletion inside one, and rolls it back when too much went).
-- params: none
-- returns: none
-- effect: once
-- writes: yes
-- dry run: no rows
SET NOCOUNT ON;
BEGIN TRANSACTION;
