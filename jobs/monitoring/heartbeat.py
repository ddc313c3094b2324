"""Heartbeat pings, healthchecks.io style: URL/start, URL, URL/fail. Never fail the run."""

from __future__ import annotations

import urllib.error
import urllib.request

from jobs import events

log = events.get_logger("susdb_maint.monitoring")
SUFFIX = {"start": "/start", "success": "", "fail": "/fail"}


def ping(url: str | None, state: str, timeout: float = 10.0) -> bool:
    if not url:
        return False
    target = url.rstrip("/") + SUFFIX[state]
    try:
        with urllib.request.urlopen(target, timeout=timeout) as response:
            response.read(256)
        return True
    except (urllib.error.URLError, OSError, ValueError) as error:
        log.warning("monitoring.heartbeat_fail", state=state, error=str(error))
        return False
