-- name: database_names
-- summary: The names of the databases on the server, read from master after a login to the
--          target's database was refused, to tell a misspelled database from a refused login.
--          Any login reads every name: VIEW ANY DATABASE is granted to public by default;
--          without it, master, tempdb and the databases the login owns.
-- params: none
-- returns: name
-- writes: no
SET NOCOUNT ON;
SELECT name
FROM sys.databases;
