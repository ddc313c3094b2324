"""Monitoring around a run: heartbeat pings, Prometheus textfile, Windows Event Log.

Like borgmatic's monitoring hooks: start before the run, finish or fail after it; a monitoring
failure is logged and never hides the run's own result or error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jobs import events
from jobs.monitoring import heartbeat, prometheus
from jobs.settings.model import MonitoringSettings

log = events.get_logger("susdb_maint.monitoring")


@contextmanager
def monitored(settings: MonitoringSettings, target: str) -> Iterator[list[Any]]:
    """Ping start, yield a list the caller appends its run report to, then write metrics and ping
    finish or fail."""
    reports: list[Any] = []
    heartbeat.ping(settings.heartbeat_url, "start")
    try:
        yield reports
    except BaseException:
        heartbeat.ping(settings.heartbeat_url, "fail")
        raise
    for report in reports:
        if settings.textfile:
            try:
                prometheus.write_textfile(settings.textfile, report)
            except OSError as error:
                log.warning("monitoring.textfile_fail", path=settings.textfile, error=str(error))
    failed = any(int(report.exit_code) in (1, 4, 5) for report in reports)
    heartbeat.ping(settings.heartbeat_url, "fail" if failed else "success")
