-- name: restore_delete_update
-- summary: Put back the text of dbo.spDeleteUpdate that the tool replaced (kept in its state
--          store), in its own transaction, and only while the procedure still holds the text the
--          tool put there (@expectedCurrent): a procedure a WSUS update replaced is left alone.
-- params: @original nvarchar(max), @expectedCurrent nvarchar(max)
-- returns: none
-- effect: once
SET NOCOUNT ON;
DECLARE @original nvarchar(max) = ?;
DECLARE @expectedCurrent nvarchar(max) = ?;
BEGIN TRY
    BEGIN TRANSACTION;
    IF OBJECT_DEFINITION(OBJECT_ID(N'dbo.spDeleteUpdate')) <> @expectedCurrent
        RAISERROR(N'spDeleteUpdate is not the text susdb-maint put there; nothing was changed', 16, 1);
    EXEC sys.sp_executesql @original;
    COMMIT TRANSACTION;
END TRY
BEGIN CATCH
    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
    THROW;
END CATCH;
