-- name: decline_update
-- summary: Decline one update through WSUS's own procedure. @failIfReplica = 1 always: on a
--          replica the approvals belong to the upstream server, and SQL itself refuses.
-- params: @updateID uniqueidentifier, @adminName nvarchar(385)
-- returns: none
SET NOCOUNT ON;
EXEC dbo.spDeclineUpdate @updateID = ?, @adminName = ?, @failIfReplica = 1;
