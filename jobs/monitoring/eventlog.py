"""Windows Event Log output: events at warning and above, source ``susdb-maint``, one event id
per event kind. Without effect off Windows or without pywin32."""

from __future__ import annotations

import logging
import sys
import zlib

SOURCE = "susdb-maint"


def event_id(event: str) -> int:
    """A stable event id per event name, in 1000-1999 (Event Viewer filters by id)."""
    return 1000 + zlib.crc32(event.encode()) % 1000


def handler(platform: str = sys.platform) -> logging.Handler | None:
    """Return a logging handler for the Windows Event Log, or None where there is none."""
    if platform != "win32":
        return None
    try:
        from logging.handlers import NTEventLogHandler

        log_handler = NTEventLogHandler(SOURCE)
    except Exception:  # the source cannot be registered (not elevated)
        return None
    if getattr(log_handler, "_welu", None) is None:  # pywin32 is not installed
        return None
    log_handler.setLevel(logging.WARNING)
    original = log_handler.getMessageID

    def get_event_id(record: logging.LogRecord) -> int:
        message = record.msg
        name = message.get("event") if isinstance(message, dict) else None
        return event_id(name) if name else original(record)

    log_handler.getMessageID = get_event_id  # type: ignore[method-assign]
    return log_handler
