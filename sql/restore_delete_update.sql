-- name: restore_delete_update
-- summary: Put back the text of dbo.spDeleteUpdate that the tool replaced (kept in its state
--          store), in its own transaction, and only while the procedure still holds the text the
--          tool put there (@expectedCurrent): a procedure a WSUS update replaced, or whose
--          text cannot be read there (NULL without VIEW DEFINITION), is left alone.
-- params: @original nvarchar(max), @expectedCurrent nvarchar(max)
-- returns: none
-- effect: once
-- writes: yes
-- dry run: no rows
SET NOCOUNT ON;
-- An ALTER PROCEDURE keeps the session's ANSI_NULLS and QUOTED_IDENTIFIER with the module:
-- pinned to ON, as the procedure was created (the stage refuses one that was not).
SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
DECLARE @original nvarchar(max) = ?;
DECLARE @expectedCurrent nvarchar(max) = ?;
BEGIN TRY
    BEGIN TRANSACTION;
    IF ISNULL(OBJECT_DEFINITION(OBJECT_ID(N'dbo.spDeleteUpdate')), N'') <> @expectedCurrent
        RAISERROR(N'spDeleteUpdate is not the text susdb-maint put there; nothing was changed', 16, 1);
    EXEC sys.sp_executesql @original;
    COMMIT TRANSACTION;
END TRY
BEGIN CATCH
    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
    THROW;
END CATCH;
