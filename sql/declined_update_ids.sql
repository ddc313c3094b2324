-- name: declined_update_ids
-- summary: The UpdateID of every update whose latest revision is declined (Declined as
--          update_is_declined reads it: vwMinimalUpdate's, at the latest revision). One read,
--          streamed, that the decline stage meets with what Configuration Manager deploys: the
--          deployed updates WSUS has declined, whose clients report them "not required". Asked
--          whole rather than per deployed update (a round trip each) and rather than with the
--          deployed list as a parameter (a list type needs OPENJSON or STRING_SPLIT, SQL Server
--          2016 and compatibility level 130; SUSDB runs on WID and SSEE too).
-- params: none
-- returns: UpdateID
-- writes: no
SET NOCOUNT ON;
SELECT mu.UpdateID
FROM dbo.vwMinimalUpdate AS mu
WHERE mu.IsLatestRevision = 1 AND mu.Declined = 1;
