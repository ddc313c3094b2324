-- name: schema_version
-- summary: The SUSDB schema version WSUS recorded.
-- params: none
-- returns: ComponentName, BuildNumber, SchemaVersion
-- writes: no
SET NOCOUNT ON;
SELECT TOP (1) ComponentName, BuildNumber, SchemaVersion
FROM dbo.tbSchemaVersion
ORDER BY ID DESC;
