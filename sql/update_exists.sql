-- name: update_exists
-- summary: Whether an update is still in the catalog: how a resumed run settles a deletion that
--          was in flight when the previous run died.
-- params: @localUpdateID int
-- returns: Present (0 or 1)
-- writes: no
SET NOCOUNT ON;
DECLARE @localUpdateID int = ?;
SELECT COUNT(*) AS Present
FROM dbo.tbUpdate AS u
WHERE u.LocalUpdateID = @localUpdateID;
