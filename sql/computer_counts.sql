-- name: computer_counts
-- summary: All computers, and an estimate of those WSUS's own cleanup would delete: silent for
--          @thresholdDays days (30 is WSUS's default) by either LastSyncTime or
--          LastReportedStatusTime, since which one spCleanupObsoleteComputers tests is not public.
--          For plans and status only: the guard itself counts what was really deleted.
-- params: @thresholdDays int
-- returns: Total, Inactive
SET NOCOUNT ON;
DECLARE @thresholdDays int = ?;
SELECT COUNT(*) AS Total,
       COALESCE(SUM(CASE WHEN ct.LastSyncTime IS NULL
                           OR ct.LastSyncTime < DATEADD(day, -@thresholdDays, GETUTCDATE())
                           OR ct.LastReportedStatusTime < DATEADD(day, -@thresholdDays, GETUTCDATE())
                         THEN 1 ELSE 0 END), 0) AS Inactive
FROM dbo.tbComputerTarget AS ct;
