-- name: delete_update_definition
-- summary: Text of dbo.spDeleteUpdate, to see whether Microsoft's performance fix (a primary key
--          on its @revisionList table variable) is in place.
-- params: none
-- returns: Definition
SET NOCOUNT ON;
SELECT OBJECT_DEFINITION(OBJECT_ID(N'dbo.spDeleteUpdate')) AS Definition;
