-- name: session_settings
-- summary: How every session of this tool behaves on a live WSUS: it loses a deadlock to WSUS's
--          own work (DEADLOCK_PRIORITY LOW). The lock timeout is not set here: the executor sets
--          it in each batch that needs another one than the session has (30 s for the tool's own
--          statements, so index DDL gives up instead of queueing WSUS's requests behind it; -1,
--          SQL Server's default, for WSUS's own procedures, which were written for it).
-- params: none
-- returns: none
-- writes: no
SET NOCOUNT ON;
SET DEADLOCK_PRIORITY LOW;
