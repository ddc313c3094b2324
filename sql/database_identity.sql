-- name: database_identity
-- summary: Which database this is, so that stored work is only ever sent to the database it was
--          found in: the server's name, the database's name, and two values SQL Server sets when
--          a database is created or restored (sys.databases.service_broker_guid, create_date).
--          A restored or re-created SUSDB, or a target pointed elsewhere, has another identity.
-- params: none
-- returns: ServerName, DatabaseName, DatabaseGuid, CreateDate
-- writes: no
SET NOCOUNT ON;
SELECT CAST(@@SERVERNAME AS nvarchar(256)) AS ServerName,
       DB_NAME() AS DatabaseName,
       d.service_broker_guid AS DatabaseGuid,
       d.create_date AS CreateDate
FROM sys.databases AS d
WHERE d.database_id = DB_ID();
