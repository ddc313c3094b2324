-- name: session_settings
-- summary: How every session of this tool behaves on a live WSUS: it loses a deadlock to WSUS's
--          own work (DEADLOCK_PRIORITY LOW) and gives up waiting for a lock after 30 s
--          (LOCK_TIMEOUT, error 1222, retried later) instead of queueing WSUS's requests behind
--          an index rebuild that waits for its schema lock.
-- params: none
-- returns: none
SET NOCOUNT ON;
SET DEADLOCK_PRIORITY LOW;
SET LOCK_TIMEOUT 30000;
