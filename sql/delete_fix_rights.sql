-- name: delete_fix_rights
-- summary: Whether this login may read and change dbo.spDeleteUpdate: without VIEW DEFINITION,
--          OBJECT_DEFINITION returns NULL (the text cannot be checked); without ALTER, Microsoft's
--          change cannot be applied or taken back.
-- params: none
-- returns: CanView, CanAlter
-- writes: no
SET NOCOUNT ON;
SELECT HAS_PERMS_BY_NAME(N'dbo.spDeleteUpdate', N'OBJECT', N'VIEW DEFINITION') AS CanView,
       HAS_PERMS_BY_NAME(N'dbo.spDeleteUpdate', N'OBJECT', N'ALTER') AS CanAlter;
