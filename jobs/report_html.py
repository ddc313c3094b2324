"""The HTML report: one run (or a date range) with its stages, what it declined and deleted, the
trend of what matters over past runs, as static SVG charts, and when a KPI heading for its warning
threshold reaches it (jobs/forecast.py). Self-contained: CSS and charts are
inline, nothing is fetched, so it opens offline and in a mail attachment.

Data comes from the state store's history tables (runs, stage_results, kpis, declined_updates),
read only. Templates are Jinja2 (autoescaped), charts pygal with its JavaScript switched off.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2
import pygal
from markupsafe import Markup
from pygal.style import Style

from jobs import __version__, events, forecast
from jobs.errors import UsageError
from jobs.report import KPI_LABELS, change_meaning, decline_findings, reason_counts, stage_note
from jobs.settings.model import Settings
from jobs.stages import health
from jobs.state.store import StateStore

log = events.get_logger("susdb_maint.report_html")

# What an administrator watches night after night (Microsoft's guide: superseded-not-declined
# above 1500 causes client scan problems; not-declined is what every client scans), and what the
# clients say about it: the outcome the rest is for.
TREND_KPIS = (
    "not_declined",
    "superseded_not_declined",
    "obsolete_backlog",
    "database_size_mb",
    "fragmented_indexes",
    "clients_synced_day",
    "clients_sync_failed",
    "clients_not_reporting",
)
DELETING_STAGES = {
    "obsolete_updates": "obsolete updates deleted (spDeleteUpdate)",
    "compress": "updates with revisions compressed",
    "computers": "computers deleted",
    "sync_history": "sync-history rows deleted",
}
# A trend line is drawn in the colour of what its change means (report.KPI_BETTER_WHEN), so red
# is kept for "worse" and never used for a series that merely comes second.
COLOURS = {"better": "#27ae60", "worse": "#c0392b", None: "#1f6fb2"}
SECOND_SERIES = "#7f8c8d"
# A KPI's warning threshold is drawn (dashed, grey) once the KPI comes within half of it: further
# below, a line at the threshold would flatten the trend it is drawn against to nothing.
THRESHOLD_SHOWN_FROM = 0.5


def chart_style(*colors: str) -> Style:
    return Style(
        background="transparent",
        plot_background="#ffffff",
        foreground="#333333",
        foreground_strong="#111111",
        foreground_subtle="#dddddd",
        colors=colors,
        font_family="Segoe UI, Helvetica, Arial, sans-serif",
        label_font_size=11,
        major_label_font_size=11,
        title_font_size=13,
    )


@dataclass
class RunView:
    run: dict[str, Any]
    stages: list[dict[str, Any]]
    kpis: dict[str, dict[str, float]]
    declined: list[dict[str, Any]]
    declined_total: int = 0
    declined_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def deleted(self) -> dict[str, int]:
        return {
            label: stage["done"]
            for stage in self.stages
            for name, label in DELETING_STAGES.items()
            if stage["stage"] == name and stage["done"]
        }

    @property
    def updates_deleted(self) -> int:
        """Obsolete updates deleted: what `history` counts as deleted (the other deletions,
        computers and rows, are not updates and have their own lines)."""
        return sum(stage["done"] for stage in self.stages if stage["stage"] == "obsolete_updates")

    @property
    def decline_findings(self) -> list[str]:
        """What the decline stage left alone or found amiss, a sentence each (report.py)."""
        return [
            sentence
            for stage in self.stages
            if stage["stage"] == "decline"
            for sentence in decline_findings(stage["detail"])
        ]

    def kpi(self, name: str) -> float | None:
        for phase in ("after", "before"):
            if name in self.kpis.get(phase, {}):
                return self.kpis[phase][name]
        return None


def _rows(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def run_view(store: StateStore, run: dict[str, Any], max_listed: int) -> RunView:
    run_id = run["run_id"]
    stages = store.stage_results(run_id)
    for stage in stages:
        stage["detail"] = json.loads(stage.pop("detail_json") or "{}")
    by_reason = store.declined_by_reason(run_id)
    for stage in stages:
        if stage["stage"] == "decline" and by_reason:
            # The stage's own by_reason counts what is still queued; what went is the history's.
            stage["detail"].setdefault("declined_by_reason", by_reason)
    declined = _rows(
        store.db,
        "SELECT update_id, kb, title, reason, why, declined_at FROM declined_updates WHERE run_id = ? "
        "ORDER BY declined_at, update_id LIMIT ?",
        (run_id, max_listed),
    )
    return RunView(run, stages, store.kpis(run_id), declined, sum(by_reason.values()), by_reason)


def runs_between(
    store: StateStore, target: str | None, since: str | None, until: str | None, limit: int
) -> list[dict[str, Any]]:
    """Finished and unfinished runs (dry runs too) started in [since, until], oldest first."""
    clauses, params = [], []
    if target:
        clauses.append("target = ?")
        params.append(target)
    if since:
        clauses.append("started_at >= ?")
        params.append(since)
    if until:
        clauses.append("started_at <= ?")
        params.append(until)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = _rows(
        store.db,
        f"SELECT * FROM runs{where} ORDER BY started_at DESC, rowid DESC LIMIT ?",
        (*params, limit),
    )
    return list(reversed(rows))


_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


def _svg(chart: Any) -> Markup:
    """The chart as inline SVG without scripts: pygal adds a small config script even with
    ``js=[]``; the report is static (mail clients strip scripts anyway)."""
    return Markup(_SCRIPT.sub("", chart.render(is_unicode=True)))


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def whole_ticks(values: Iterable[float | None]) -> list[int]:
    """Y-axis ticks from 0 past the largest value, a round whole step apart (1, 2, 5, 10, 20, ...).
    pygal's own scale cuts a small range into tenths (0.2, 0.4, ...; 0.8, 1.6, ...): nonsense on
    a count of updates, and a size in MB needs no fraction either."""
    top = max((value for value in values if value is not None), default=0)
    steps = (factor * 10**power for power in itertools.count() for factor in (1, 2, 5))
    step = next(step for step in steps if top <= 5 * step)
    return [step * index for index in range(max(1, math.ceil(top / step)) + 1)]


def trend_chart(
    title: str,
    labels: list[str],
    values: list[float | None],
    meaning: str | None = None,
    threshold: float | None = None,
) -> Markup:
    """One KPI over the runs, coloured by what its change means; with its warning threshold as a
    dashed line when the KPI comes within ``THRESHOLD_SHOWN_FROM`` of it."""
    top = max((value for value in values if value is not None), default=0)
    if threshold is not None and top < threshold * THRESHOLD_SHOWN_FROM:
        threshold = None
    chart = pygal.Line(
        js=[],  # pygal's tooltips load a script from a CDN: off, the report must render offline
        disable_xml_declaration=True,
        width=460,
        height=230,
        style=chart_style(COLOURS[meaning], SECOND_SERIES),
        title=title,
        show_legend=threshold is not None,
        legend_at_bottom=True,
        truncate_legend=-1,
        show_dots=len(values) <= 40,
        x_label_rotation=30,
        truncate_label=12,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(labels) // 8),
        allow_interruptions=True,
        print_values=False,
        include_x_axis=True,
        y_labels=whole_ticks([*values, threshold]),
        value_formatter=_count,
    )
    chart.x_labels = labels
    chart.add(title, values)
    if threshold is not None:
        chart.add(
            f"warning threshold {threshold:,.0f}",
            [threshold] * len(values),
            show_dots=False,
            stroke_style={"dasharray": "6, 4"},
        )
    return _svg(chart)


def work_chart(labels: list[str], declined: list[int], deleted: list[int]) -> Markup:
    chart = pygal.Bar(
        js=[],
        disable_xml_declaration=True,
        width=460,
        height=230,
        style=chart_style(COLOURS[None], SECOND_SERIES),
        title="Declined and deleted per run",
        legend_at_bottom=True,
        truncate_legend=-1,
        y_labels=whole_ticks([*declined, *deleted]),
        x_label_rotation=30,
        truncate_label=12,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(labels) // 8),
        value_formatter=_count,
    )
    chart.x_labels = labels
    chart.add("declined", declined)
    chart.add("obsolete updates deleted", deleted)
    return _svg(chart)


def _label(run: dict[str, Any]) -> str:
    """MM-DD HH:MM of the run's start (UTC): short enough to stay readable under the axis."""
    return str(run["started_at"])[5:16].replace("T", " ")


def charts(views: list[RunView], thresholds: dict[str, int] | None = None) -> list[Markup]:
    """Trend charts over real (not dry) runs, oldest first, each coloured by what its change from
    the first run shown to the last means, near its warning threshold drawn against it."""
    real = [view for view in views if not view.run["dry_run"]]
    if len(real) < 2:
        return []
    labels = [_label(view.run) for view in real]
    shown = []
    for name in TREND_KPIS:
        values = [view.kpi(name) for view in real]
        known = [value for value in values if value is not None]
        if known:
            meaning = change_meaning(name, known[0], known[-1])
            limit = (thresholds or {}).get(name)
            shown.append(trend_chart(KPI_LABELS.get(name, name), labels, values, meaning, limit))
    shown.append(
        work_chart(
            labels,
            [view.declined_total for view in real],
            [
                next((s["done"] for s in view.stages if s["stage"] == "obsolete_updates"), 0)
                for view in real
            ],
        )
    )
    return shown


def forecast_lines(views: list[RunView], thresholds: dict[str, int]) -> list[str]:
    """A sentence for each KPI heading for its warning threshold, from the real runs shown (the
    newest ``forecast.POINTS`` of them), each at its start."""
    history = [
        (
            datetime.fromisoformat(view.run["started_at"]),
            view.kpis.get("after") or view.kpis.get("before") or {},
        )
        for view in views
        if not view.run["dry_run"]
    ]
    return [
        forecast.sentence(KPI_LABELS.get(name, name), seen)
        for name, seen in forecast.forecasts(history, thresholds).items()
    ]


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("jobs", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["number"] = lambda value: (
        "-"
        if value is None
        else f"{int(value):,}"
        if float(value).is_integer()
        else f"{value:,.1f}"
    )
    return environment


def render(
    store: StateStore,
    settings: Settings,
    *,
    run_id: str | None = None,
    target: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> tuple[str, str, str]:
    """Return (subject, plain-text summary, HTML) for one run (with the trend up to it) or for
    the runs started between ``since`` and ``until``. Raise UsageError when there is nothing."""
    report = settings.report
    focus = None
    if run_id:
        found = store.run(run_id)
        if found is None:
            raise UsageError(f"--run {run_id!r}: no such run (see susdb-maint history)")
        focus = run_view(store, found, report.max_listed_updates)
        history = runs_between(store, found["target"], None, found["started_at"], report.trend_runs)
    else:
        history = runs_between(store, target, since, until, 10_000)
        if not history:
            raise UsageError(
                f"no runs{f' on {target}' if target else ''} between {since or 'the first run'} "
                f"and {until or 'now'}"
            )
    views = [
        focus if focus and run["run_id"] == focus.run["run_id"] else run_view(store, run, 0)
        for run in history
    ]
    limits = health.thresholds(settings.stages.health)
    context = {
        "focus": focus,
        "views": views,
        "charts": charts(views, limits),
        "forecasts": forecast_lines(views, limits),
        "since": since,
        "until": until,
        "target": focus.run["target"] if focus else target,
        "kpi_labels": KPI_LABELS,
        "change_meaning": change_meaning,
        "stage_note": stage_note,
        "trend_kpis": TREND_KPIS,
        "max_listed": report.max_listed_updates,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
    }
    html = _environment().get_template("report.html.j2").render(**context)
    if focus:
        run = focus.run
        subject = f"[susdb-maint] {run['target']}: run {run['run_id']} {run['status']}"
        deleted = ", ".join(f"{count:,} {label}" for label, count in focus.deleted.items())
        text = (
            f"susdb-maint run {run['run_id']} on {run['target']} ({run['profile']}): "
            f"{run['status']}, exit {run['exit_code']}.\n"
            f"Declined {focus.declined_total} update(s)"
            + (f" ({reason_counts(focus.declined_by_reason)})" if focus.declined_by_reason else "")
            + (f"; {deleted}" if deleted else "")
            + ".\n"
            + "".join(f"{sentence}.\n" for sentence in focus.decline_findings)
            + "The full report is attached (open it in a browser).\n"
        )
    else:
        subject = f"[susdb-maint] report {since or ''}..{until or ''} ({len(views)} runs)"
        text = f"susdb-maint report: {len(views)} run(s). The full report is attached.\n"
    return subject, text, html


def default_file_name(run_id: str | None, target: str | None) -> str:
    stamp = run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"report-{target or 'all'}-{stamp}.html"


def after_run(settings: Settings, state_dir: Path, run_id: str) -> None:
    """Write the run's report to ``[report] html_dir`` and e-mail it if asked. Never raises: a
    report or e-mail failure is an event, never the run's exit code."""
    report = settings.report
    wants_mail = bool(report.email.to) and report.email.after_run
    if not report.html_dir and not wants_mail:
        return
    try:
        store = StateStore(state_dir, read_only=True)
        try:
            subject, text, html = render(store, settings, run_id=run_id)
            target = store.run(run_id)["target"]  # type: ignore[index]
        finally:
            store.close()
        name = default_file_name(run_id, target)
        if report.html_dir:
            directory = Path(report.html_dir).expanduser()
            directory.mkdir(parents=True, exist_ok=True)
            (directory / name).write_text(html, encoding="utf-8")
            log.info("report.written", path=str(directory / name))
        if wants_mail:
            from jobs import mail

            mail.send(report.email, mail.build_message(report.email, subject, text, html, name))
            log.info("report.email_sent", to=report.email.to, host=report.email.smtp_host)
    except Exception as error:  # never fail the run for its report
        log.warning("report.fail", error=f"{type(error).__name__}: {error}")


def parse_day(value: str, *, end: bool = False) -> str:
    """Turn YYYY-MM-DD (or a full timestamp) into the store's timestamp form."""
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        raise UsageError(f"expected a date as YYYY-MM-DD, got {value!r}") from None
    if len(value) > 10:
        return value
    return f"{day.isoformat()}T23:59:59Z" if end else f"{day.isoformat()}T00:00:00Z"
