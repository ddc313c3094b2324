-- name: release_target_lock
-- summary: Release the run's application lock (closing the session releases it too).
-- params: @resource nvarchar(255)
-- returns: Result
-- writes: yes
-- dry run: Result = 0
SET NOCOUNT ON;
DECLARE @resource nvarchar(255) = ?;
DECLARE @result int;
EXEC @result = sys.sp_releaseapplock @Resource = @resource, @LockOwner = 'Session';
SELECT @result AS Result;
