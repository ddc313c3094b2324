"""Monitoring around an invocation: heartbeat pings, Prometheus textfile, Windows Event Log.

Like borgmatic's monitoring hooks: start before, finish or fail after; a monitoring failure is
logged and never hides the run's own result or error. The textfile is written from the run
history after every target's run, so it shows the latest run of every target (``run --all`` and
scheduled jobs included), failures that ended a run before its first stage too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobs import events
from jobs.monitoring import heartbeat, prometheus
from jobs.settings.model import MonitoringSettings

log = events.get_logger("susdb_maint.monitoring")
FAILING_EXIT_CODES = (1, 2, 4, 5)


class Monitor:
    """What a run reports to: the caller adds each target's report as it finishes."""

    def __init__(self, settings: MonitoringSettings, state_dir: Path | None) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.reports: list[Any] = []

    def append(self, report: Any) -> None:
        self.reports.append(report)
        self.write_textfile()

    def write_textfile(self) -> None:
        if not self.settings.textfile:
            return
        try:
            prometheus.write_textfile(self.settings.textfile, self._latest())
        except OSError as error:
            log.warning("monitoring.textfile_fail", path=self.settings.textfile, error=str(error))

    def _latest(self) -> list[Any]:
        """The newest report of every target: from the history, then this invocation's own."""
        latest: dict[str, Any] = {}
        if self.state_dir is not None:
            from jobs.errors import StateError
            from jobs.state.store import StateStore

            try:
                store = StateStore(self.state_dir, read_only=True)
                try:
                    for row in store.latest_runs():
                        summary = prometheus.summary_of(row)
                        if summary is not None:
                            latest[row["target"]] = summary
                finally:
                    store.close()
            except StateError as error:
                log.warning("monitoring.history_unavailable", error=str(error))
        for report in self.reports:
            data = report.as_dict() if hasattr(report, "as_dict") else report
            latest[data["target"]] = data
        return list(latest.values())

    def abandoned(self, report: Any) -> None:
        """The run ends the process from its hard stop: report it, and ping, now."""
        self.append(report)
        heartbeat.ping(self.settings.heartbeat_url, "fail" if self.failed else "success")

    @property
    def failed(self) -> bool:
        return any(
            int(getattr(report, "exit_code", 0)) in FAILING_EXIT_CODES for report in self.reports
        )


@contextmanager
def monitored(settings: MonitoringSettings, state_dir: Path | None = None) -> Iterator[Monitor]:
    """Ping start, yield a Monitor the caller adds its run reports to (each one rewrites the
    textfile), then ping finish or fail."""
    monitor = Monitor(settings, state_dir)
    heartbeat.ping(settings.heartbeat_url, "start")
    try:
        yield monitor
    except BaseException:
        heartbeat.ping(settings.heartbeat_url, "fail")
        raise
    heartbeat.ping(settings.heartbeat_url, "fail" if monitor.failed else "success")
