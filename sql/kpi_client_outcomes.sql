-- name: kpi_client_outcomes
-- summary: What the clients say about the catalog: computers whose last synchronization succeeded
--          in the last day and in the last week, computers whose last synchronization failed,
--          and computers that stopped reporting (a status report once, none for
--          @stoppedReportingDays days). One read of tbComputerTarget: one row per computer, a
--          small table.
--          LastSyncResult's values are documented for the wire, not for the column: MS-WSUSSS
--          3.1.4.15.3.2 ComputerRollupInfo, whose LastSyncResult a downstream server copies from
--          this table's column of the same name, "0 Unknown/client computer has never contacted
--          the update server, 1 Succeeded, 2 Failed" (the WSUS 2.0 API's SynchronizationResult
--          adds 3 Canceled, 4 Unknown). That the column stores those numbers is our inference from
--          the matching names; any other value counts as neither success nor failure here.
--          LastSyncTime is "when the client computer last contacted the update server to check
--          for new updates" (same section): a client whose scan then fails may have contacted it,
--          so "synchronized" also asks for LastSyncResult = 1. LastReportedStatusTime: "the last
--          time this client sent its update installation status" (IComputerTarget); never
--          reported (NULL) is not "stopped". Dates are UTC (the API's "Coordinated Universal
--          Time").
-- params: @stoppedReportingDays int
-- returns: SyncedLastDay, SyncedLastWeek, LastSyncFailed, StoppedReporting
-- writes: no
SET NOCOUNT ON;
DECLARE @stoppedReportingDays int = ?;
DECLARE @now datetime = GETUTCDATE();
DECLARE @day datetime = DATEADD(day, -1, @now);
DECLARE @week datetime = DATEADD(day, -7, @now);
DECLARE @silent datetime = DATEADD(day, -@stoppedReportingDays, @now);
SELECT COALESCE(SUM(CASE WHEN ct.LastSyncResult = 1 AND ct.LastSyncTime >= @day
                         THEN 1 ELSE 0 END), 0) AS SyncedLastDay,
       COALESCE(SUM(CASE WHEN ct.LastSyncResult = 1 AND ct.LastSyncTime >= @week
                         THEN 1 ELSE 0 END), 0) AS SyncedLastWeek,
       COALESCE(SUM(CASE WHEN ct.LastSyncResult = 2 THEN 1 ELSE 0 END), 0) AS LastSyncFailed,
       COALESCE(SUM(CASE WHEN ct.LastReportedStatusTime < @silent
                         THEN 1 ELSE 0 END), 0) AS StoppedReporting
FROM dbo.tbComputerTarget AS ct;
