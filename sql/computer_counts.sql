-- name: computer_counts
-- summary: All computers, and how many WSUS's own cleanup would delete at @thresholdDays (30 is
--          WSUS's default): spCleanupObsoleteComputers tests LastSyncTime, LastReportedStatusTime
--          or either (which is not public), so two figures. Inactive: silent by either date (at
--          most this many go); Certain: silent by both (at least this many go, whichever date
--          WSUS tests). The guard refuses on Inactive, so the procedure is never called when it
--          might delete over the limits, and says both figures; its transaction counts the rest.
-- params: @thresholdDays int
-- returns: Total, Inactive, Certain
-- writes: no
SET NOCOUNT ON;
DECLARE @thresholdDays int = ?;
DECLARE @cutoff datetime = DATEADD(day, -@thresholdDays, GETUTCDATE());
SELECT COUNT(*) AS Total,
       COALESCE(SUM(CASE WHEN ct.LastSyncTime IS NULL OR ct.LastSyncTime < @cutoff
                           OR ct.LastReportedStatusTime IS NULL
                           OR ct.LastReportedStatusTime < @cutoff
                         THEN 1 ELSE 0 END), 0) AS Inactive,
       COALESCE(SUM(CASE WHEN (ct.LastSyncTime IS NULL OR ct.LastSyncTime < @cutoff)
                          AND (ct.LastReportedStatusTime IS NULL
                               OR ct.LastReportedStatusTime < @cutoff)
                         THEN 1 ELSE 0 END), 0) AS Certain
FROM dbo.tbComputerTarget AS ct;
