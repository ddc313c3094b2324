-- name: server_info
-- summary: Server version, edition and engine edition (4 = Express-class, which includes WID).
-- params: none
-- returns: ProductVersion, Edition, EngineEdition, ServerName, DatabaseName
-- writes: no
SET NOCOUNT ON;
SELECT
    CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS ProductVersion,
    CAST(SERVERPROPERTY('Edition') AS nvarchar(128)) AS Edition,
    CAST(SERVERPROPERTY('EngineEdition') AS int) AS EngineEdition,
    @@SERVERNAME AS ServerName,
    DB_NAME() AS DatabaseName;
