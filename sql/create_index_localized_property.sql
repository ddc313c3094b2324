-- name: create_index_localized_property
-- summary: The custom index Microsoft recommends on tbLocalizedPropertyForRevision
--          (LocalizedPropertyID); it speeds the orphan checks of spDeleteUpdate. Named for this
--          tool so that --remove-custom-indexes drops only what it created.
-- params: none
-- returns: none
-- effect: once
-- writes: yes
-- dry run: no rows
SET NOCOUNT ON;
CREATE NONCLUSTERED INDEX [nclSusdbMaint_LocalizedPropertyID]
    ON [dbo].[tbLocalizedPropertyForRevision] ([LocalizedPropertyID] ASC)
    WITH (SORT_IN_TEMPDB = OFF, ONLINE = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON);
