"""The real network, through pyodbc and FreeTDS to the served simulator, with a TCP proxy that
resets or silences the link (network-review D1, D2, D3): the run ends on time, sends nothing
twice, and its history says what the server did."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jobs.exit_codes import ExitCode
from jobs.simulator import create
from jobs.simulator.catalog import preset_profile
from tests.helpers import cli_env, configured_command, procedure_calls
from tests.integration.proxy import Proxy, Trigger
from tests.integration.served import PASSWORD, PASSWORD_ENV, Served

pytestmark = [pytest.mark.integration, pytest.mark.slow]
GRACE = 5  # runner.hard_stop_grace_seconds in these runs


@pytest.fixture
def superseded_sim(tmp_path: Path) -> Path:
    path = tmp_path / "susdb.sqlite3"
    create(path, preset_profile("neglected", updates=1000, seed=12))
    return path


@pytest.fixture
def proxied(serve, superseded_sim) -> Iterator[tuple[Served, Proxy]]:
    # Every statement takes 5 ms of real time, so a night lasts long enough to break it.
    served = serve(superseded_sim, time_scale=0, latency=0.005)
    proxy = Proxy((served.server.host, served.server.port))
    yield served, proxy
    proxy.stop()


def config_through(served: Served, proxy: Proxy | None, directory: Path, **target: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    port = {"port": proxy.port} if proxy is not None else {}
    path = served.config(directory, **port, **target)
    path.write_text(
        path.read_text(encoding="utf-8")
        + f"[runner]\nbatch_target_seconds = 1\nhard_stop_grace_seconds = {GRACE}\n",
        encoding="utf-8",
    )
    return path


def decline_run(config: Path, state: Path, *args: str) -> list[str]:
    return configured_command(config, state, "run", "--stage", "decline", *args)


def decline_night(config: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A decline night from the CLI, as the scheduler starts one."""
    return subprocess.run(
        decline_run(config, state, *args),
        capture_output=True,
        text=True,
        env=cli_env(**{PASSWORD_ENV: PASSWORD}),
        timeout=300,
    )


def declines_sent(sim: Path) -> dict[str, int]:
    return dict(procedure_calls(sim, "spDeclineUpdate"))


def history(state: Path) -> tuple[list[tuple[str, int]], list[str]]:
    with sqlite3.connect(state / "state.sqlite3") as db:
        runs = db.execute("SELECT status, exit_code FROM runs ORDER BY started_at").fetchall()
        declined = [row[0] for row in db.execute("SELECT update_id FROM declined_updates")]
    return runs, declined


def night_events(night: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in night.stderr.splitlines() if line.startswith("{")]


def overrun_of(events: list[dict[str, Any]], ended: datetime) -> float:
    """Seconds the night ran past its window's end as the run set it (process start-up comes
    before)."""
    (start,) = [event for event in events if event["event"] == "run.start"]
    return (
        ended - datetime.fromisoformat(start["deadline"].replace("Z", "+00:00"))
    ).total_seconds()


def test_a_silent_link_ends_the_run_within_the_grace_after_the_window_and_sends_nothing_twice(
    proxied, tmp_path
):
    served, proxy = proxied
    # The 40th decline reaches the server; its answer, and everything after it, never comes back.
    proxy.triggers.append(Trigger("decline_update", "silence", count=40))
    config = config_through(served, proxy, tmp_path)
    window_seconds = 6
    started = time.monotonic()
    night = decline_night(config, tmp_path / "state", "--max-duration", str(window_seconds / 60))
    ended = datetime.now(UTC)
    assert proxy.fired == ["silence on decline_update"]
    assert night.returncode == ExitCode.PARTIAL, night.stderr[-2000:]
    events = night_events(night)
    overrun = overrun_of(events, ended)
    assert overrun < GRACE + 3, overrun
    assert time.monotonic() - started < window_seconds + GRACE + 30
    names = [event["event"] for event in events]
    assert "run.abandoned_link" in names
    finish = next(event for event in events if event["event"] == "run.finish")
    assert finish["exit_code"] == ExitCode.PARTIAL and finish["status"] == "partial"
    runs, _ = history(tmp_path / "state")
    assert runs == [("partial", ExitCode.PARTIAL)]

    # The link is back: the next night settles what was in flight and finishes the work.
    proxy.stop()
    healed = decline_night(config_through(served, None, tmp_path / "direct"), tmp_path / "state")
    assert healed.returncode == ExitCode.OK, healed.stderr[-2000:]
    sent = declines_sent(served.sim)
    assert sent and max(sent.values()) == 1
    _, declined = history(tmp_path / "state")
    assert len(declined) == len(set(declined)) == len(sent)  # history is the server's record


def test_a_link_gone_silent_on_the_lock_check_ends_the_run_within_twice_the_grace(
    proxied, tmp_path
):
    """The lock's question before a batch is not work, so it may run after the window: but never
    for a query timeout, nor through a retry's logins and the lock's release (before: 169 s past
    a 6 s window, exit 5). What runs after the window is cut a grace after it, and a cut that goes
    unanswered ends the run a grace later."""
    served, proxy = proxied
    proxy.triggers.append(Trigger("check_target_lock", "silence", count=5))
    config = config_through(served, proxy, tmp_path, query_timeout=10)
    night = decline_night(config, tmp_path / "state", "--max-duration", "0.1")
    ended = datetime.now(UTC)
    assert proxy.fired == ["silence on check_target_lock"]
    assert night.returncode == ExitCode.PARTIAL, night.stderr[-2000:]
    assert overrun_of(night_events(night), ended) < 2 * GRACE + 3


def test_a_reset_mid_statement_is_a_lost_connection_that_the_run_survives(proxied, tmp_path):
    served, proxy = proxied
    # The 25th decline reaches the server, then both ends see a reset (FreeTDS: "Unknown error").
    proxy.triggers.append(Trigger("decline_update", "reset", count=25))
    night = decline_night(config_through(served, proxy, tmp_path), tmp_path / "state")
    assert proxy.fired == ["reset on decline_update"]
    assert night.returncode == ExitCode.OK, night.stderr[-2000:]
    sent = declines_sent(served.sim)
    assert sent and max(sent.values()) == 1
    _, declined = history(tmp_path / "state")
    assert len(declined) == len(set(declined)) == len(sent)


@pytest.mark.parametrize(
    "forwarded", [True, False], ids=["the-cut-decline-reached-the-server", "it-never-did"]
)
def test_two_hosts_never_decline_together_when_the_first_ones_link_is_cut(
    proxied, tmp_path, forwarded
):
    """D1: host A works through the proxy; its link is reset mid-batch; host B, with its own
    state directory, retries every 0.3 s straight to the server. The lock ended with A's session,
    so B may take over, but A must not send another statement of work. When the cut decline never
    reached the server, B declines that update: A's next night finds it declined, in B's name,
    and keeps it out of A's history."""
    served, proxy = proxied
    proxy.triggers.append(Trigger("decline_update", "reset", count=150, forwarded=forwarded))
    environment = cli_env(**{PASSWORD_ENV: PASSWORD})
    # Logins give up after 5 s: Driver 18 tries a refused port for the whole login timeout.
    config_a = config_through(served, proxy, tmp_path / "a", login_timeout=5)
    host_a = subprocess.Popen(
        decline_run(config_a, tmp_path / "a" / "state"),
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    a_log: list[str] = []
    declining = threading.Event()

    def read_a() -> None:
        assert host_a.stderr is not None
        for line in host_a.stderr:
            a_log.append(line)
            if '"decline.update"' in line:
                declining.set()

    reader = threading.Thread(target=read_a, daemon=True)
    reader.start()
    assert declining.wait(60), "".join(a_log)[-2000:]
    if not forwarded:
        # A cannot reach the server again tonight: its cut decline stays in flight, for B to
        # make and A's next night to find made.
        while not proxy.fired and host_a.poll() is None:
            time.sleep(0.01)
        proxy.stop()
    config_b = config_through(served, None, tmp_path / "b")
    outcomes_b: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        attempt = decline_night(config_b, tmp_path / "b" / "state")
        outcomes_b.append(attempt.returncode)
        if attempt.returncode != ExitCode.LOCKED:
            break
        time.sleep(0.3)
    try:
        host_a.wait(timeout=120)
    except subprocess.TimeoutExpired:
        host_a.kill()
        reader.join(timeout=10)
        pytest.fail("host A did not end:\n" + "".join(a_log)[-4000:])
    reader.join(timeout=10)
    assert proxy.fired == ["reset on decline_update"]
    assert outcomes_b[-1] == ExitCode.OK, outcomes_b
    if forwarded:
        assert outcomes_b[0] == ExitCode.LOCKED  # B was kept out while A held the lock
        # A either took its lock again before B did and finished, or found B holding it: exit 5.
        assert host_a.returncode in (ExitCode.OK, ExitCode.LOCKED), "".join(a_log)[-2000:]
    else:  # A never got its link back: its stage failed on the lost connection
        assert host_a.returncode == ExitCode.STAGE_FAILED, "".join(a_log)[-2000:]
    # Host A's next night (straight to the server now) settles the decline whose reply the
    # reset took, which it could not verify without its lock.
    next_night = decline_night(
        config_through(served, None, tmp_path / "a-next"), tmp_path / "a" / "state"
    )
    assert next_night.returncode == ExitCode.OK, next_night.stderr[-2000:]
    sent = declines_sent(served.sim)
    assert max(sent.values()) == 1
    _, declined_a = history(tmp_path / "a" / "state")
    _, declined_b = history(tmp_path / "b" / "state")
    assert not set(declined_a) & set(declined_b)  # no update in both hosts' histories
    assert len(declined_a) + len(declined_b) == len(sent)
    for state in (tmp_path / "a" / "state", tmp_path / "b" / "state"):
        assert_history_counts_what_it_lists(state)


def assert_history_counts_what_it_lists(state: Path) -> None:
    """Each run's declined count (history, status, monitoring) is the number of updates
    `history --declined RUN_ID` lists for it."""
    from jobs import commands

    for run in commands.history(state, None, 100):
        listed = commands.declined(state, run["run_id"]) if not run["dry_run"] else []
        assert run["counts"]["declined"] == len(listed), run["run_id"]


@pytest.mark.parametrize("first", ["session_settings", "acquire_target_lock", "database_identity"])
def test_a_link_dropped_on_the_first_statements_of_a_run_is_retried(
    serve, superseded_sim, tmp_path, first
):
    """D9: the connection drops on one of the first statements a run sends (its reply never
    arrives); the run connects again and goes on, as it does for any other statement."""
    from jobs.runner.options import RunOptions
    from jobs.runner.plan import build_plan
    from jobs.runner.run import execute_plan

    served = serve(superseded_sim, time_scale=0, drop_after={first: 1})
    plan = build_plan(
        served.settings(), RunOptions(target="served", profile=None, stages=["decline"])
    )
    report = execute_plan(plan, tmp_path / "state")
    assert report.exit_code == ExitCode.OK, report.error
    assert served.server.stats[f"received {first}"] >= 2  # the dropped one, then again
    sent = declines_sent(served.sim)
    assert sent and max(sent.values()) == 1


def test_a_candidate_query_whose_link_is_reset_mid_result_is_run_again(proxied, tmp_path):
    """D10: the connection resets after the first rows of the superseded candidate query went
    through; the queue build is retried whole (nothing half-spooled is kept), not failed."""
    served, proxy = proxied
    proxy.triggers.append(Trigger("superseded_updates", "reset_mid_reply", reply_bytes=6000))
    night = decline_night(config_through(served, proxy, tmp_path), tmp_path / "state")
    assert proxy.fired == ["reset_mid_reply on superseded_updates"]
    assert night.returncode == ExitCode.OK, night.stderr[-2000:]
    assert '"decline.source_fail"' not in night.stderr
    assert '"retry"' in night.stderr
    sent = declines_sent(served.sim)
    assert sent and max(sent.values()) == 1
