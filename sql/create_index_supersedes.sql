-- name: create_index_supersedes
-- summary: The custom index Microsoft recommends on tbRevisionSupersedesUpdate
--          (SupersededUpdateID); every "is this update superseded?" test scans without it.
-- params: none
-- returns: none
-- effect: once
-- writes: yes
-- dry run: no rows
SET NOCOUNT ON;
CREATE NONCLUSTERED INDEX [nclSusdbMaint_SupersededUpdateID]
    ON [dbo].[tbRevisionSupersedesUpdate] ([SupersededUpdateID] ASC)
    WITH (SORT_IN_TEMPDB = OFF, ONLINE = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON);
