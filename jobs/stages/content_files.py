"""Unneeded content files: only the WSUS API can remove them (they are files on disk), so on a
Windows host this calls Invoke-WsusServerCleanup -CleanupUnneededContentFiles with a timeout."""

from __future__ import annotations

import shutil
import subprocess
import sys

from jobs import events
from jobs.runner.context import RunContext, StageOutcome

log = events.get_logger("susdb_maint.stages.content_files")
COMMAND = "Invoke-WsusServerCleanup -CleanupUnneededContentFiles | Out-String"


# Declared, with its settings and the rights it needs, in jobs/stages/declared/content_files.py.
def run(ctx: RunContext) -> StageOutcome:
    if sys.platform != "win32":
        return StageOutcome(
            status="skipped",
            reason="not_windows: content cleanup needs the WSUS API on the WSUS host",
        )
    powershell = shutil.which("powershell.exe") or shutil.which("powershell")
    if powershell is None:
        return StageOutcome(status="skipped", reason="Windows PowerShell 5.1 not found")
    if ctx.dry_run:
        return StageOutcome(status="planned", remaining=1, detail={"command": COMMAND})
    timeout = ctx.settings.stages.content_files.timeout_seconds
    left = ctx.seconds_left()
    if left is not None:
        timeout = int(max(1, min(timeout, left)))
    try:
        completed = subprocess.run(
            [powershell, "-NoProfile", "-NonInteractive", "-Command", COMMAND],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return StageOutcome(status="failed", reason=f"timed out after {timeout} s")
    output = (completed.stdout or "").strip()
    if completed.returncode != 0:
        return StageOutcome(status="failed", reason=(completed.stderr or output).strip()[-500:])
    log.info("content_files.result", output=output[-500:])
    return StageOutcome(done=1, detail={"output": output[-500:]})
