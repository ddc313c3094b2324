-- name: configmgr_deployed_updates
-- summary: The software updates Configuration Manager deploys, read from its site database (not
--          SUSDB): CI_UniqueID is the WSUS UpdateID of a Microsoft update. v_UpdateCIs is the
--          documented view of every software update configuration item, CI types 1 (update) and
--          8 (update bundle), with "whether the update is deployed" ("Software updates views in
--          Configuration Manager", learn.microsoft.com/mem/configmgr/develop/core/understand/
--          sqlviews/software-updates-views-configuration-manager; the same properties as
--          SMS_SoftwareUpdateBase's CI_UniqueID, IsDeployed, IsExpired, IsSuperseded). The decline
--          stage never declines these, and counts a deployed superseder as alive. Read-only: a
--          login with db_datareader on the site database is enough (whether the reporting role
--          sees the view is not documented).
-- params: none
-- returns: CI_UniqueID, IsExpired, IsSuperseded
-- writes: no
SET NOCOUNT ON;
SELECT u.CI_UniqueID, u.IsExpired, u.IsSuperseded
FROM dbo.v_UpdateCIs AS u
WHERE u.IsDeployed = 1 AND u.CIType_ID IN (1, 8);
