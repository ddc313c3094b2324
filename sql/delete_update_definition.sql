-- name: delete_update_definition
-- summary: dbo.spDeleteUpdate as the server keeps it: its text (to see whether Microsoft's
--          performance fix, a primary key on its @revisionList table variable, is in place), the
--          ANSI_NULLS and QUOTED_IDENTIFIER settings it was created with (an ALTER captures the
--          session's own), and whether it is signed (an ALTER drops the signature). No row, or a
--          NULL text, without VIEW DEFINITION on it.
-- params: none
-- returns: Definition, UsesAnsiNulls, UsesQuotedIdentifier, IsSigned
-- writes: no
SET NOCOUNT ON;
SELECT OBJECT_DEFINITION(m.object_id) AS Definition,
       CAST(m.uses_ansi_nulls AS int) AS UsesAnsiNulls,
       CAST(m.uses_quoted_identifier AS int) AS UsesQuotedIdentifier,
       CASE WHEN EXISTS (SELECT 1 FROM sys.crypt_properties AS cp
                         WHERE cp.class = 1 AND cp.major_id = m.object_id)
            THEN 1 ELSE 0 END AS IsSigned
FROM sys.sql_modules AS m
WHERE m.object_id = OBJECT_ID(N'dbo.spDeleteUpdate');
