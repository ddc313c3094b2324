-- name: update_statistics_all
-- summary: sp_updatestats: statistics whose rows changed, default sampling (Microsoft's script).
-- params: none
-- returns: messages only
EXEC sys.sp_updatestats;
