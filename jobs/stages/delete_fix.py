"""Microsoft's spDeleteUpdate change, applied on request and taken back on request.

Without it each ``spDeleteUpdate`` takes tens of seconds ("The spDeleteUpdate stored procedure
runs slowly", Microsoft), so a neglected server needs weeks of nights to clear its obsolete
updates. With ``stages.delete_fix.apply = true`` this stage applies Microsoft's published text,
but only:

* after the backup gate passed (it is a destructive stage);
* when the procedure's current text is one this tool knows (its normalised fingerprint is that of
  WSUS's original, as Microsoft's article implies it: the published text without the primary
  key); any other text (a later WSUS build, a local change) is left alone;
* when the procedure was created with ANSI_NULLS and QUOTED_IDENTIFIER ON (an ALTER captures the
  session's settings, so both are set ON in the same batch, and a procedure created otherwise is
  left alone) and is not signed (an ALTER drops a signature without a word);
* with VIEW DEFINITION and ALTER on the procedure. On a replica too: spDeleteUpdate is local to
  each SUSDB, and Microsoft's article asks for the change on every affected server;
* in its own transaction, which checks again that the text did not change in between, and fails
  closed when the text cannot be read there (OBJECT_DEFINITION is NULL without VIEW DEFINITION).

The original text is kept in the state store only once the change committed: a change that
failed saves nothing, so no later run says it was replaced or offers to put it back (a run killed
in between loses nothing: the original is the known text). ``run --restore-delete-update`` puts
it back (only while the procedure still holds the text this tool put there). A WSUS update may
replace the procedure again: preflight notices and says so.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache

from jobs import events
from jobs.db.catalog import statement
from jobs.db.tsql import is_comment, strip_comments, tokens
from jobs.runner.context import RunContext, StageOutcome
from jobs.susdb import Module

log = events.get_logger("susdb_maint.stages.delete_fix")
PROCEDURE = "dbo.spDeleteUpdate"
_HEADER = re.compile(r"^(?:CREATE\s+OR\s+ALTER|CREATE|ALTER)\s+PROC(?:EDURE)?\b", re.I)
_FIXED_LITERAL = re.compile(r"DECLARE @fixed nvarchar\(max\) = N'((?:[^']|'')*)';", re.S)


def normalized(text: str) -> str:
    """The text with comments, brackets, letter case, white space and CREATE/ALTER set aside."""
    text = strip_comments(text)
    text = " ".join(text.replace("[", "").replace("]", "").split()).upper()
    return _HEADER.sub("PROCEDURE", text, count=1)


def fingerprint(text: str) -> str:
    return hashlib.sha256(normalized(text).encode()).hexdigest()[:16]


@cache
def published_fix() -> str:
    """Microsoft's published body, as ``sql/apply_delete_update_fix.sql`` sends it."""
    match = _FIXED_LITERAL.search(statement("apply_delete_update_fix").text)
    assert match, "apply_delete_update_fix.sql must hold the published body in @fixed"
    return match.group(1).replace("''", "'")


@cache
def known_originals() -> frozenset[str]:
    """WSUS's own text as the article describes it: the published one without the primary key."""
    original = published_fix().replace("TABLE(RevisionID INT PRIMARY KEY)", "TABLE(RevisionID INT)")
    return frozenset({fingerprint(original)})


def state_of(text: str | None) -> str:
    """``fixed``, ``original``, ``unknown`` (a text this tool does not know) or ``unreadable``."""
    if text is None:
        return "unreadable"
    if fingerprint(text) == fingerprint(published_fix()):
        return "fixed"
    return "original" if fingerprint(text) in known_originals() else "unknown"


def as_alter(text: str) -> str:
    """A stored CREATE PROCEDURE text as the ALTER PROCEDURE that puts it back: the first CREATE
    outside comments and strings (a text may begin with a comment block before it)."""
    offset = 0
    for token_type, value in tokens(text):
        if not is_comment(token_type) and value.strip():
            if _HEADER.match(text[offset:]):
                return text[:offset] + _HEADER.sub("ALTER PROCEDURE", text[offset:], count=1)
            break
        offset += len(value)
    raise ValueError("the saved spDeleteUpdate text does not begin with CREATE PROCEDURE")


# Declared, with its settings and the rights it needs, in jobs/stages/declared/delete_fix.py.
def run(ctx: RunContext) -> StageOutcome:
    if ctx.options.restore_delete_fix:
        return restore(ctx)
    if not ctx.settings.stages.delete_fix.apply:
        return StageOutcome(status="skipped", reason="off: stages.delete_fix.apply is false")
    refusal = _refusal(ctx)
    if refusal is not None:
        return refusal
    module = ctx.susdb.delete_update_module()
    text = module.definition if module is not None else None
    state = state_of(text)
    if state == "fixed":
        return StageOutcome(status="skipped", reason="already applied")
    if state != "original" or module is None or text is None:
        return StageOutcome(
            status="refused",
            reason=f"spDeleteUpdate's text is not one susdb-maint knows (fingerprint "
            f"{fingerprint(text or '')}): it was left unchanged",
        )
    unchangeable = _unchangeable(module)
    if unchangeable is not None:
        return StageOutcome(status="refused", reason=unchangeable)
    if ctx.dry_run:
        # The plan's later stages estimate what the run finds there: the change in place.
        ctx.facts.delete_fix = True
        return StageOutcome(
            status="planned", remaining=1, detail={"fingerprint": fingerprint(text)}
        )
    ctx.susdb.apply_delete_update_fix(text)
    ctx.store.save_original(ctx.database, PROCEDURE, text, ctx.run_id)
    ctx.facts.delete_fix = True
    log.info("delete_fix.applied", procedure=PROCEDURE, original_fingerprint=fingerprint(text))
    return StageOutcome(done=1, detail={"original_fingerprint": fingerprint(text)})


def restore(ctx: RunContext) -> StageOutcome:
    saved = ctx.store.original_of(ctx.database, PROCEDURE)
    if saved is None:
        return StageOutcome(
            status="refused",
            reason="susdb-maint never changed spDeleteUpdate on this database: nothing to put back",
        )
    if state_of(saved) != "original":
        # Only a text that was WSUS's original when it was saved is ever executed.
        return StageOutcome(
            status="refused",
            reason="the saved spDeleteUpdate text is not WSUS's original (the state store was "
            "changed?): it is not executed",
        )
    refusal = _refusal(ctx)
    if refusal is not None:
        return refusal
    current = ctx.susdb.delete_update_definition()
    if state_of(current) != "fixed" or current is None:
        return StageOutcome(
            status="refused",
            reason="spDeleteUpdate no longer holds the text susdb-maint put there (a WSUS update "
            "may have replaced it): it was left unchanged",
        )
    if ctx.dry_run:
        ctx.facts.delete_fix = False  # as the run leaves it, for the plan's later estimates
        return StageOutcome(status="planned", remaining=1, detail={"restore": True})
    ctx.susdb.restore_delete_update(as_alter(saved), current)
    ctx.store.forget_original(ctx.database, PROCEDURE)
    ctx.facts.delete_fix = False
    log.info("delete_fix.restored", procedure=PROCEDURE, fingerprint=fingerprint(saved))
    return StageOutcome(done=1, detail={"restored_fingerprint": fingerprint(saved)})


def _unchangeable(module: Module) -> str | None:
    """Why an ALTER would change more than the text: its signature, its SET options."""
    if module.signed:
        return (
            "spDeleteUpdate is signed, and an ALTER would drop its signature without a word: it "
            "was left unchanged"
        )
    if not (module.uses_ansi_nulls and module.uses_quoted_identifier):
        return (
            "spDeleteUpdate was created with ANSI_NULLS or QUOTED_IDENTIFIER OFF, which "
            "Microsoft's change (made with both ON) would not keep: it was left unchanged"
        )
    return None


def _refusal(ctx: RunContext) -> StageOutcome | None:
    can_view, can_alter = ctx.susdb.delete_fix_rights()
    if not can_view:
        return StageOutcome(
            status="refused",
            reason="cannot read spDeleteUpdate's text: the login lacks VIEW DEFINITION on it",
        )
    if not can_alter:
        return StageOutcome(
            status="refused", reason="the login lacks ALTER on dbo.spDeleteUpdate (db_owner has it)"
        )
    return None


def replaced_since_applied(ctx: RunContext) -> bool:
    """True when this tool applied the change here and the procedure no longer holds it."""
    if not ctx.database or ctx.store.original_of(ctx.database, PROCEDURE) is None:
        return False
    return state_of(ctx.susdb.delete_update_definition()) != "fixed"
