-- name: acquire_target_lock
-- summary: Take the session-owned exclusive application lock that keeps two runs (from any host)
--          off one SUSDB. Lock timeout 0: a held lock answers at once.
-- params: @resource nvarchar(255)
-- returns: Result (0 granted, -1 timed out: another run holds it, other negatives: error)
-- writes: yes
-- dry run: Result = 0
SET NOCOUNT ON;
DECLARE @resource nvarchar(255) = ?;
DECLARE @result int;
EXEC @result = sys.sp_getapplock
    @Resource = @resource, @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 0;
SELECT @result AS Result;
