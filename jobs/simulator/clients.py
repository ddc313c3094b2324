"""The simulated clients: computers that scan the catalog, fail while it is too large, and come
back once the maintenance has made it small enough.

The model, and where each part comes from:

* **What a client scans** is every update that is not declined: "the client scans every update
  that is not declined on the WSUS server" (the seed article, shared/mission/seed-article-ja.txt:
  「WSUS 上で『拒否済み』以外の更新プログラムをスキャン対象とする」). Here: the updates clients are
  offered (latest revision, explicitly deployable, Software or Driver, not hidden: the filter of
  sql/kpi_update_counts.sql and PUBLIC_VIEWS.vUpdateInstallationInfo) that are not declined
  (``SCANNED_CATALOG``).
* **When it fails.** The seed article names the failure (``GetUpdateMetadata2 failed,
  hr=8007000E``: the scan result no longer fits the Windows Update Agent's memory) and its cause
  (the size of that catalog) but no size. The size is Microsoft's own: on a SUSDB that "is not
  clean ... all the clients might start scanning and continue to scan constantly and never
  actually complete a scan", and it recovers once the valid updates are "fewer than 7,000 (but
  fewer than 5,000 is preferred)" (KB 4489045, "Troubleshoot high CPU usage on a WSUS server";
  susdb-internals §7.1). So a scan fails while the scanned catalog is above ``DEFAULT_SCAN_LIMIT``
  (7,000), the same figure as ``stages.health.not_declined_warning``; ``sim_meta``
  ``client_scan_limit`` sets another. One limit for every client is ours: the article says only
  32-bit clients run out of memory, and no source gives a per-client figure.
* **When it scans**: once a detection period, 22 hours, WSUS's default detection frequency (KB
  909131 sizes a server by it), each computer at its own phase (a hash of its ComputerID), so scans
  spread over the day.
* **What a scan writes** (tbComputerTarget): the client contacted the server, so ``LastSyncTime``
  is the scan's time ("the time when the client computer last contacted the update server to
  check for new updates", MS-WSUSSS 3.1.4.15.3.2), and ``LastSyncResult`` is 1 (Succeeded) or 2
  (Failed), the values that section gives for the column of the same name ("0 Unknown/client
  computer has never contacted the update server, 1 Succeeded, 2 Failed"). The 8007000E failure
  happens on the client after it has talked to the server (the seed article: handing the result
  over RPC), so its time advances too; a failing client still reports its status (the failure is
  what it reports), so ``LastReportedStatusTime`` is the scan's time as well.
* **Who scans**: the computers listed in ``sim_client`` (a generated catalog lists every computer
  it made that has not gone silent; a hand-built one only those a test asks for). A computer that
  went silent (switched off, decommissioned) never scans again; its last synchronization
  succeeded (it left for reasons of its own). A computer whose ``LastSyncTime`` is no longer the
  one the model last wrote (a test, or an administrator, planted another) leaves the model and
  keeps what was planted.
* **When scans are settled.** The clients are brought up to the server's clock (``catch_up``)
  whenever a statement reads the computers (``READS``), each scan judged by the catalog at that
  moment: a night's declines count for every scan since the last read, whenever in the night it
  fell (ours: the server does not keep the catalog's size over time). A generated catalog settles
  its clients once when it is made (``settle``).
"""

from __future__ import annotations

import sqlite3
import zlib
from datetime import datetime, timedelta

from jobs.simulator.server import ts

DEFAULT_SCAN_LIMIT = 7000
DETECTION_HOURS = 22
NEVER, SUCCEEDED, FAILED = 0, 1, 2
# The statements that read tbComputerTarget's rows: the clients scan up to the server's clock first.
READS = frozenset(
    {"kpi_client_outcomes", "computer_counts", "computer_target_ids", "cleanup_obsolete_computers"}
)
SCANNED_CATALOG = """
SELECT COUNT(*) FROM tbUpdate u
JOIN tbRevision r ON r.LocalUpdateID = u.LocalUpdateID AND r.IsLatestRevision = 1
JOIN tbProperty p ON p.RevisionID = r.RevisionID
WHERE p.ExplicitlyDeployable = 1 AND p.UpdateType IN ('Software', 'Driver') AND u.IsHidden = 0
  AND NOT EXISTS (
      SELECT 1 FROM tbDeployment d JOIN tbRevision dr ON dr.RevisionID = d.RevisionID
      WHERE dr.LocalUpdateID = u.LocalUpdateID AND d.ActionID = 2)
"""
_PERIOD = timedelta(hours=DETECTION_HOURS)
_EPOCH = datetime(2000, 1, 1)


def last_scan(computer_id: str, now: datetime) -> datetime:
    """The moment of this computer's newest scan at or before ``now``."""
    period = int(_PERIOD.total_seconds())
    phase = zlib.crc32(computer_id.encode()) % period
    since = int((now - _EPOCH).total_seconds()) - phase
    return now - timedelta(seconds=since % period)


def scan_limit(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM sim_meta WHERE key = 'client_scan_limit'").fetchone()
    return int(row[0]) if row else DEFAULT_SCAN_LIMIT


def scan_result(db: sqlite3.Connection) -> int:
    """What a scan of the catalog as it stands now ends with."""
    (scanned,) = db.execute(SCANNED_CATALOG).fetchone()
    return FAILED if scanned > scan_limit(db) else SUCCEEDED


def catch_up(db: sqlite3.Connection, now: datetime) -> int:
    """Bring every modelled client up to ``now``: each whose newest scan is later than the one
    the model last wrote scans the catalog as it stands. Return how many scanned."""
    due = []
    for computer_id, written in db.execute(
        "SELECT sc.ComputerID, sc.LastSyncTime FROM sim_client sc "
        "JOIN tbComputerTarget ct ON ct.ComputerID = sc.ComputerID "
        "WHERE ct.LastSyncTime IS sc.LastSyncTime"
    ).fetchall():
        scanned = ts(last_scan(computer_id, now))
        if written is None or scanned > written:
            due.append((computer_id, scanned))
    if not due:
        return 0
    result = scan_result(db)
    db.executemany(
        "UPDATE tbComputerTarget SET LastSyncTime = ?, LastReportedStatusTime = ?, "
        "LastSyncResult = ? WHERE ComputerID = ?",
        [(scanned, scanned, result, computer_id) for computer_id, scanned in due],
    )
    db.executemany(
        "UPDATE sim_client SET LastSyncTime = ? WHERE ComputerID = ?",
        [(scanned, computer_id) for computer_id, scanned in due],
    )
    return len(due)


def settle(db: sqlite3.Connection, now: datetime) -> None:
    """A generated catalog's clients as the catalog found them: each scanning client's newest scan
    judged by the catalog as made; the silent ones' last synchronization succeeded."""
    db.execute(
        "UPDATE tbComputerTarget SET LastSyncResult = ? WHERE ComputerID NOT IN "
        "(SELECT ComputerID FROM sim_client)",
        (SUCCEEDED,),
    )
    # Every scanning client scans once at ``now``'s newest scan, whatever the generator planted.
    db.execute(
        "UPDATE tbComputerTarget SET LastSyncTime = NULL "
        "WHERE ComputerID IN (SELECT ComputerID FROM sim_client)"
    )
    db.execute("UPDATE sim_client SET LastSyncTime = NULL")
    catch_up(db, now)
