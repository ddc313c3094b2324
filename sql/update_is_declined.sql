-- name: update_is_declined
-- summary: Whether one update is declined already: how a resumed run settles an item that was
--          in flight when the previous run died, without declining it twice.
-- params: @updateID uniqueidentifier
-- returns: Declined (no row: the update is gone)
SET NOCOUNT ON;
DECLARE @updateID uniqueidentifier = ?;
SELECT mu.Declined
FROM dbo.vwMinimalUpdate AS mu
WHERE mu.UpdateID = @updateID;
