-- name: check_target_lock
-- summary: Whether this session still holds the target lock: checked before every batch, so a
--          run whose lock connection dropped stops instead of running unlocked.
-- params: @resource nvarchar(255)
-- returns: LockMode ('Exclusive' while held, 'NoLock' otherwise)
-- writes: no
-- dry run: LockMode = 'Exclusive' (a dry run takes no lock: the run it shows holds it)
SET NOCOUNT ON;
DECLARE @resource nvarchar(255) = ?;
SELECT APPLOCK_MODE(N'public', @resource, N'Session') AS LockMode;
