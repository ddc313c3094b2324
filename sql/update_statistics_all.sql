-- name: update_statistics_all
-- summary: sp_updatestats: statistics whose rows changed, default sampling (Microsoft's script).
-- params: none
-- returns: messages only
-- writes: yes
-- dry run: no rows
EXEC sys.sp_updatestats;
