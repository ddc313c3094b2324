-- name: replica_state
-- summary: Replica mode and update source. ReplicaMode = 1: approvals come from upstream, so
--          declines must happen there (spDeclineUpdate @failIfReplica = 1 refuses here anyway).
-- params: none
-- returns: ReplicaMode, SyncToMu, UpstreamServerName
-- writes: no
SET NOCOUNT ON;
SELECT c.ReplicaMode, a.SyncToMu, a.UpstreamServerName
FROM dbo.tbConfigurationC AS c
CROSS JOIN dbo.tbConfigurationA AS a;
