"""The tables of human output: run and plan summaries, history, KPIs, and what each KPI means.
What each command prints with them: jobs/output.py. Machines read the events instead."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from jobs.runner.run import StageResult

KPI_LABELS = {
    "total_updates": "Updates (total)",
    "not_declined": "Not declined (what clients scan)",
    "superseded_not_declined": "Superseded, not declined",
    "declined": "Declined",
    "approved": "Approved",
    "obsolete_backlog": "Obsolete backlog",
    "fragmented_indexes": "Fragmented indexes",
    "event_instance_rows": "tbEventInstance rows",
    "computers": "Computers",
    "clients_synced_day": "Computers synced OK, last 24 h",
    "clients_synced_week": "Computers synced OK, last 7 days",
    "clients_sync_failed": "Computers whose last sync failed",
    "clients_not_reporting": "Computers that stopped reporting",
    "database_size_mb": "Database size (MB)",
}

# Which way each KPI moves when SUSDB gets healthier, so a change is shown by what it means, not
# by its sign ("Declined +235" is the goal). Declining is the point; the other counts are work
# left: updates every client scans, rows and pages the server carries. Not listed (total,
# approved, computers): updates and machines come and go by themselves, a change means neither.
# The client figures are the outcome all of it is for: more computers synchronizing, fewer failing
# their scan or silent.
KPI_BETTER_WHEN: dict[str, Literal["higher", "lower"]] = {
    "declined": "higher",
    "not_declined": "lower",
    "superseded_not_declined": "lower",
    "obsolete_backlog": "lower",
    "fragmented_indexes": "lower",
    "event_instance_rows": "lower",
    "database_size_mb": "lower",
    "clients_synced_day": "higher",
    "clients_synced_week": "higher",
    "clients_sync_failed": "lower",
    "clients_not_reporting": "lower",
}


def change_meaning(key: str, old: float | None, new: float | None) -> str | None:
    """Given a KPI and its values before and after, return "better", "worse", or None when it did
    not change, one value is missing, or the KPI has no better direction."""
    better_when = KPI_BETTER_WHEN.get(key)
    if better_when is None or old is None or new is None or new == old:
        return None
    return "better" if (new > old) == (better_when == "higher") else "worse"


# What each count in `history` adds up: the items these stages finished.
HISTORY_COUNTS = {"declined": "decline", "deleted": "obsolete_updates", "compressed": "compress"}


def console(stream: TextIO | None = None, *, markup: bool = True) -> Console:
    return Console(
        file=stream or sys.stdout, highlight=False, soft_wrap=True, width=120, markup=markup
    )


def number(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def items_done(stages: list[dict[str, Any]]) -> dict[str, int]:
    """Items each stage finished, added up over its runs in the profile (reindex runs twice)."""
    done: dict[str, int] = {}
    for stage in stages:
        done[stage["stage"]] = done.get(stage["stage"], 0) + int(stage.get("done") or 0)
    return done


def explain_changes(
    before: dict[str, float], after: dict[str, float], stages: list[dict[str, Any]]
) -> dict[str, str]:
    """Given the KPIs around a run and its stage results, return a note for each change an
    administrator would misread, keyed by KPI."""
    done = items_done(stages)
    declined, deleted = done.get("decline", 0), done.get("obsolete_updates", 0)
    notes: dict[str, str] = {}

    def change(key: str) -> float | None:
        if key not in before or key not in after:
            return None
        return after[key] - before[key]

    # Short enough for the table's last column at 120 characters.
    if (change("approved") or 0) < 0 and declined:
        # spDeclineUpdate replaces an update's deployments by a Block deployment.
        notes["approved"] = "declining an approved update removes its approval"
    if change("declined") is not None and (declined or deleted):
        parts = [f"{declined:+,} declined by this run"] if declined else []
        if deleted:
            parts.append("less deleted obsolete ones")
        notes["declined"] = ", ".join(parts)
    fell = -(change("total_updates") or 0)
    if fell > 0 and deleted:
        # The total counts what clients are offered; obsolete updates that never were (hidden,
        # not deployable) are deleted too, so the two numbers need not match.
        uncounted = deleted - fell
        notes["total_updates"] = f"{deleted:,} obsolete updates deleted" + (
            f", {uncounted:,} of them never offered" if uncounted > 0 else ""
        )
    if (change("not_declined") or 0) < 0:
        notes["not_declined"] = "fewer updates for every client to scan"
    if after.get("superseded_not_declined") and "decline" in done:
        # Kept on purpose: the safe-decline rules (README, "Declines: what is safe to decline").
        notes["superseded_not_declined"] = "kept: too young (min_age_days) or nothing live covers"
    if change("database_size_mb") is not None and (deleted or done.get("sync_history")):
        notes["database_size_mb"] = "freed space is reused; the file does not shrink"
    if (change("event_instance_rows") or 0) < 0 and done.get("sync_history"):
        notes["event_instance_rows"] = "sync history past its retention deleted"
    if (change("computers") or 0) < 0 and done.get("computers"):
        notes["computers"] = "computers that stopped reporting deleted"
    if before.get("clients_sync_failed") and after.get("clients_sync_failed") and declined:
        above = next(
            (
                alert["threshold"]
                for stage in stages
                if stage["stage"] == "health"
                for alert in (stage.get("detail") or {}).get("warnings", [])
                if alert["kpi"] == "not_declined"
            ),
            None,
        )
        # A client learns what the night declined at its next scan: WSUS's default detection
        # frequency is 22 hours (KB 909131), so the figures after a run show only the first few;
        # while the catalog stays above Microsoft's 7,000 (KB 4489045) they need not come back.
        rescan = "clients see tonight's declines at their next scan (about 22 h)"
        notes["clients_sync_failed"] = (
            f"{rescan}; what they scan is still above {above:,}: decline unused products"
            if above is not None
            else f"{rescan}: see the next run"
        )
    if (change("fragmented_indexes") or 0) > 0:
        # Only what this run did is named as the cause: a run of other stages found them so.
        if deleted:
            notes["fragmented_indexes"] = "fragmented by deletes; the next reindex rebuilds"
        elif "reindex" in done:
            notes["fragmented_indexes"] = "fragmented since the reindex; the next one rebuilds"
    return notes


def kpi_table(
    before: dict[str, float],
    after: dict[str, float],
    title: str = "SUSDB before and after",
    notes: dict[str, str] | None = None,
) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("KPI")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    table.add_column("change", justify="right")
    if notes:
        table.add_column("why")
    for key, label in KPI_LABELS.items():
        if key not in before and key not in after:
            continue
        old, new = before.get(key), after.get(key)
        change = "" if old is None or new is None else f"{new - old:+,.0f}"
        row = [label, number(old), number(new), change]
        table.add_row(*row, *([notes.get(key, "")] if notes else []))
    return table


def snapshot_table(
    kpis: dict[str, float], title: str, notes: dict[str, str] | None = None
) -> Table:
    """One column of values: the state of SUSDB now (status, plan)."""
    table = Table(title=title, title_justify="left")
    table.add_column("KPI")
    table.add_column("now", justify="right")
    if notes:
        table.add_column("note")
    for key, label in KPI_LABELS.items():
        if key in kpis:
            row = [label, number(kpis[key])]
            table.add_row(*row, *([notes.get(key, "")] if notes else []))
    return table


def reason_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} {number(count)}" for reason, count in counts.items())


def stage_note(stage: dict[str, Any], *, planned: bool = False) -> str:
    """A stage's note: why it ended so (a failed stage says why first: the counts alone read as
    "all went well"; admin review: a misspelled keep_products showed only "superseded 267,
    expired 182"), then, for the decline stage, what it declined per reason, what is still queued
    (for a plan: what it would queue, unlabelled), and what it left alone or found amiss."""
    detail = stage.get("detail") or {}
    parts = [str(stage["reason"])] if stage.get("reason") else []
    if detail.get("declined_by_reason"):
        parts.append(f"declined: {reason_counts(detail['declined_by_reason'])}")
    if detail.get("by_reason"):
        queued = reason_counts(detail["by_reason"])
        parts.append(queued if planned else f"queued: {queued}")
    parts.extend(decline_findings(detail, short=True))
    return "; ".join(parts)


def decline_findings(detail: dict[str, Any], *, short: bool = False) -> list[str]:
    """What the decline stage left alone or found amiss (its detail's ``category_unresolved``,
    ``kept_deployed``, ``declined_but_deployed``), one phrase each (``short``, for a table's note)
    or one sentence each naming the events that list the updates. Configuration Manager's
    mismatches are reported both ways, zeros included: that the site was read and agreed is
    worth saying."""
    found = []
    unresolved = detail.get("category_unresolved")
    if unresolved:
        found.append(
            f"{number(unresolved)} left alone: a category title did not resolve"
            if short
            else f"{number(unresolved)} update(s) left alone by product, classification and "
            "keep_products rules: a product or classification title did not resolve "
            "(events decline.category_unresolved)"
        )
    if "configmgr_deployed" in detail:
        kept = number(detail.get("kept_deployed", 0))
        declined = number(detail.get("declined_but_deployed", 0))
        if short:
            found.append(
                f"Configuration Manager deploys {number(detail['configmgr_deployed'])}: "
                f"{kept} candidate(s) kept, {declined} declined in WSUS"
            )
        else:
            found += [
                f"{kept} candidate(s) kept because Configuration Manager deploys them "
                "(events decline.deployed)",
                f"{declined} update(s) Configuration Manager deploys are declined in WSUS: their "
                "clients report them not required (events configmgr.declined_but_deployed)",
            ]
    return found


def stage_table(stages: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column, justify in (
        ("stage", "left"),
        ("status", "left"),
        ("done", "right"),
        ("skipped", "right"),
        ("failed", "right"),
        ("remaining", "right"),
        ("seconds", "right"),
        ("note", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for stage in stages:
        table.add_row(
            stage["stage"],
            stage["status"],
            number(stage.get("done")),
            number(stage.get("skipped")),
            number(stage.get("failed")),
            number(stage.get("remaining")),
            f"{stage.get('duration_seconds') or 0:,.1f}",
            stage_note(stage),
        )
    return table


def plan_table(stages: list[dict[str, Any]], title: str) -> Table:
    """A dry run's stages: what each would do, not what it did (nothing was done)."""
    table = Table(title=title, title_justify="left")
    for column, justify in (
        ("stage", "left"),
        ("plan", "left"),
        ("items to do", "right"),
        ("already done", "right"),
        ("estimate", "right"),
        ("note", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for stage in stages:
        detail = stage.get("detail") or {}
        status = stage["status"]
        # A dry run really runs the read-only stages (preflight, health): they checked, not did.
        plan = "checked" if status == "done" else "would run" if status == "planned" else status
        estimate = detail.get("estimated_seconds")
        table.add_row(
            stage["stage"],
            plan,
            number(stage.get("remaining")) if status == "planned" else "-",
            number(stage.get("skipped")) if status == "planned" else "-",
            f"{estimate / 60:,.1f} min" if estimate is not None else "-",
            stage_note(stage, planned=True),
        )
    return table


def simulated(virtual_time: bool | None) -> str:
    """What follows a duration on a simulated SUSDB's clock: its published costs pass there in
    no time, so its seconds are not the seconds the run took."""
    return " (simulated time)" if virtual_time else ""


def run_counts(run: dict[str, Any]) -> dict[str, int | None]:
    """Declined, deleted and compressed items of a stored run (None for a dry run)."""
    summary = run.get("summary")
    if summary is None:
        summary = json.loads(run.get("summary_json") or "{}")
    if run.get("dry_run"):
        return dict.fromkeys(HISTORY_COUNTS)
    done = items_done(summary.get("stages") or [])
    counts: dict[str, int | None] = {
        column: done.get(stage, 0) for column, stage in HISTORY_COUNTS.items()
    }
    if run.get("declined_rows") is not None:
        # The run's audit rows: what `history --declined` lists, whoever settled them.
        counts["declined"] = int(run["declined_rows"])
    return counts


def history_table(runs: list[dict[str, Any]]) -> Table:
    table = Table(
        title="Run history",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
    )
    # The run ID is what `history --declined RUN_ID` needs: never wrapped, never cut.
    width = max((len(run["run_id"]) for run in runs), default=3)
    table.add_column("run", no_wrap=True, min_width=width)
    table.add_column("target")
    table.add_column("profile")
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("status")
    table.add_column("exit")
    for column in HISTORY_COUNTS:
        table.add_column(column, justify="right")
    for run in runs:
        counts = run_counts(run)
        table.add_row(
            run["run_id"],
            run["target"],
            run["profile"] + (" (plan)" if run["dry_run"] else ""),
            str(run["started_at"]).replace("T", " ").removesuffix("Z")[:16],
            run["status"],
            number(run.get("exit_code")),
            *(number(counts[column]) for column in HISTORY_COUNTS),
        )
    return table


def window_fit(
    stages: Sequence[StageResult],
    max_duration_minutes: float | None,
    until: Any,
    *,
    virtual_time: bool = False,
) -> str:
    """One line: the estimated work of the queued items against the window."""
    seconds = sum(stage.detail.get("estimated_seconds", 0) for stage in stages)
    estimate = (
        f"Estimated work for the queued items: {seconds / 60:,.1f} min{simulated(virtual_time)}, "
        "from past runs' per-item times where known, published costs otherwise"
    )
    if max_duration_minutes is None and until is None:
        return estimate + "; no window set."
    if max_duration_minutes is None:
        return estimate + f"; the window ends at {until:%H:%M}."
    verdict = (
        "fits"
        if seconds <= max_duration_minutes * 60
        else "does not fit: the rest stays queued for later runs"
    )
    return estimate + f"; window {max_duration_minutes:g} min: {verdict}."
