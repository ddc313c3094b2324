"""The HTML report: what a run did and the trend, self-contained, e-mailed over TLS, never failing a run."""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import threading
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from jobs import mail, report_html
from jobs.settings.model import ReportEmailSettings
from jobs.state.store import StateStore
from tests.helpers import (
    EventLog,
    a_catalog_with_decline_findings,
    copy_sim,
    record_decline,
    run,
    run_cli,
    settings_for,
    simulated_command,
)

HOSTILE_TITLE = "<script>alert('x')</script> & <b>bold</b>"


def history(sim: Path, state_dir: Path, nights: int = 3) -> list[str]:
    """Run the nightly profile ``nights`` times on the simulated SUSDB; return the run IDs."""
    settings = settings_for(sim, backup={"gate": "off"})
    return [run(settings, state_dir).run_id for _ in range(nights)]


@pytest.fixture(scope="module")
def three_nights(
    small_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, list[str]]:
    """Three nightly runs on a small catalog, made once for the tests that only read them: the
    simulated SUSDB, the state directory and the run IDs, oldest first."""
    directory = tmp_path_factory.mktemp("three-nights")
    sim = copy_sim(small_template, directory)
    return sim, directory / "state", history(sim, directory / "state")


def render_run(state_dir: Path, sim: Path, run_id: str, **report: Any) -> tuple[str, str, str]:
    store = StateStore(state_dir, read_only=True)
    try:
        return report_html.render(store, settings_for(sim, report=report), run_id=run_id)
    finally:
        store.close()


def external_references(html: str) -> list[str]:
    """Anything a browser would fetch: scripts, stylesheets, images, fonts, imports."""
    found = re.findall(r"<(?:script|link|img|iframe|object|embed)\b[^>]*>", html, re.I)
    found += re.findall(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^\"'\s>]+", html, re.I)
    found += re.findall(r"url\(\s*[\"']?(?:https?:)?//[^)]*\)|@import", html, re.I)
    return found


@pytest.mark.slow
def test_a_run_report_shows_its_stages_counts_declines_and_trend(three_nights):
    small_sim, state_dir, run_ids = three_nights

    subject, text, html = render_run(state_dir, small_sim, run_ids[0])

    store = StateStore(state_dir, read_only=True)
    stages = store.stage_results(run_ids[0])
    declined = store.declined(run_ids[0])
    store.close()
    assert declined, "the first night on the small catalog declines superseded updates"
    assert f"run {run_ids[0]}" in html and run_ids[0] in subject
    for stage in stages:
        assert f"<td>{stage['stage']}</td>" in html
    assert f"<strong>{len(declined):,}</strong> declined" in html
    assert all(row["update_id"] in html for row in declined[:20])
    assert "Not declined (what clients scan)" in html
    assert f"Declined {len(declined)} update(s)" in text


@pytest.mark.slow
def test_the_trend_has_one_inline_svg_chart_per_kpi_and_nothing_is_fetched(three_nights):
    small_sim, state_dir, run_ids = three_nights

    _, _, html = render_run(state_dir, small_sim, run_ids[-1])

    charts = re.findall(r"<svg\b", html)
    assert len(charts) >= 5
    for label in (
        "Not declined (what clients scan)",
        "Superseded, not declined",
        "Database size (MB)",
        "Fragmented indexes",
    ):
        assert re.search(
            rf"<text[^>]*class=\"title plot_title\">{re.escape(label)}</text>", html
        ), label
    assert external_references(html) == []


def test_titles_are_escaped_not_interpreted(tmp_path, state_dir, small_sim):
    store = StateStore(state_dir)
    store.start_run("20261125T020000Z-aaaaaa", "sim", "nightly", False)
    record_decline(
        store,
        "20261125T020000Z-aaaaaa",
        "sim",
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        None,
        HOSTILE_TITLE,
        "rule:x",
    )
    store.close()

    _, _, html = render_run(state_dir, small_sim, "20261125T020000Z-aaaaaa")

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html


def test_a_long_decline_list_is_cut_and_says_how_many_more(state_dir, small_sim):
    store = StateStore(state_dir)
    store.start_run("20261125T020000Z-aaaaaa", "sim", "nightly", False)
    for index in range(30):
        record_decline(
            store,
            "20261125T020000Z-aaaaaa",
            "sim",
            f"3f2504e0-4f89-11d3-9a0c-{index:012d}",
            None,
            f"Update {index}",
            "superseded",
        )
    store.close()

    _, _, html = render_run(state_dir, small_sim, "20261125T020000Z-aaaaaa", max_listed_updates=10)

    assert html.count("<td>superseded</td>") == 10
    assert "20 more: <code>susdb-maint history --declined 20261125T020000Z-aaaaaa</code>" in html


def nights_with_kpis(
    state_dir: Path, nights: list[tuple[dict[str, float], dict[str, float]]]
) -> str:
    """Record one real run a night with the KPIs before and after it and one decline; return the
    last run's ID."""
    store = StateStore(state_dir)
    for night, (before, after) in enumerate(nights, start=1):
        run_id = f"202611{night:02d}T020000Z-aaaaaa"
        store.start_run(run_id, "sim", "nightly", False)
        store.db.execute(
            "UPDATE runs SET started_at = ? WHERE run_id = ?",
            (f"2026-11-{night:02d}T02:00:00Z", run_id),
        )
        store.record_kpis(run_id, "before", before)
        store.record_kpis(run_id, "after", after)
        record_decline(
            store, run_id, "sim", f"3f2504e0-4f89-11d3-9a0c-{night:012d}", None, "U", "superseded"
        )
    store.close()
    return run_id


def change_class(html: str, label: str) -> str:
    """The CSS class of a KPI's change cell in the before-and-after table."""
    found = re.search(
        rf"<td>{re.escape(label)}</td>(?:<td[^>]*>[^<]*</td>){{2}}\s*<td class=\"([^\"]*)\">", html
    )
    assert found, label
    return " ".join(found.group(1).split())


def chart_colours(html: str) -> dict[str, list[str]]:
    """Each chart's title and the colours pygal draws its series in."""
    colours = {}
    for svg in html.split("<svg")[1:]:
        title = re.search(r'class="title plot_title">([^<]*)</text>', svg)
        assert title
        colours[title.group(1)] = re.findall(r"\.color-\d[^{]*\{stroke:(#[0-9a-f]+)", svg)
    return colours


def y_ticks(svg: str) -> list[str]:
    """The labels on a pygal chart's y axis."""
    axis = svg[svg.index('class="axis y') : svg.index('class="axis x')]
    return re.findall(r"<text[^>]*>([^<]*)</text>", axis)


def test_the_trend_charts_come_before_the_declined_list(state_dir, small_sim):
    night = {"not_declined": 900.0, "declined": 100.0}
    last = nights_with_kpis(state_dir, [(night, night), (night, night)])

    _, _, html = render_run(state_dir, small_sim, last)

    assert "<svg" in html
    assert html.index("<h2>Trend</h2>") < html.index("<h2>Declined updates")
    assert html.index("<h2>Trend</h2>") < html.index("<svg")


def test_a_date_range_report_shows_the_trend_before_its_list_of_runs(state_dir, small_sim):
    night = {"not_declined": 900.0}
    nights_with_kpis(state_dir, [(night, night), (night, night)])
    store = StateStore(state_dir, read_only=True)

    _, _, html = report_html.render(store, settings_for(small_sim))
    store.close()

    assert "<svg" in html
    assert html.index("<h2>Trend</h2>") < html.index("<h2>Runs</h2>")


def test_a_change_is_coloured_by_what_it_means(state_dir, small_sim):
    before = {
        "declined": 100.0,
        "not_declined": 900.0,
        "superseded_not_declined": 400.0,
        "database_size_mb": 500.0,
        "fragmented_indexes": 2.0,
        "approved": 10.0,
        "computers": 50.0,
    }
    after = {
        "declined": 335.0,
        "not_declined": 665.0,
        "superseded_not_declined": 165.0,
        "database_size_mb": 520.0,
        "fragmented_indexes": 5.0,
        "approved": 8.0,
        "computers": 50.0,
    }
    last = nights_with_kpis(state_dir, [(before, before), (before, after)])

    _, _, html = render_run(state_dir, small_sim, last)

    assert "+235</td>" in html
    assert change_class(html, "Declined") == "num better"
    assert change_class(html, "Not declined (what clients scan)") == "num better"
    assert change_class(html, "Superseded, not declined") == "num better"
    assert change_class(html, "Database size (MB)") == "num worse"
    assert change_class(html, "Fragmented indexes") == "num worse"
    assert change_class(html, "Approved") == "num", "fewer approvals mean neither"
    assert change_class(html, "Computers") == "num", "no change"
    colours = chart_colours(html)
    assert colours["Not declined (what clients scan)"] == [report_html.COLOURS["better"]]
    assert colours["Database size (MB)"] == [report_html.COLOURS["worse"]]
    assert colours["Fragmented indexes"] == [report_html.COLOURS["worse"]]
    assert report_html.COLOURS["worse"] not in colours["Declined and deleted per run"]


def test_count_axes_have_whole_number_ticks():
    labels = ["11-01 02:00", "11-02 02:00", "11-03 02:00"]
    for values in ([0, 0, 0], [0, 1, 0], [1, 3, 2], [0, 2, 7], [120, 235, 90], [5.5, 4.0, 3.2]):
        ticks = y_ticks(str(report_html.trend_chart("Fragmented indexes", labels, values)))
        assert ticks and all(re.fullmatch(r"\d[\d,]*", tick) for tick in ticks), (values, ticks)
        assert 2 <= len(ticks) <= 6 and int(ticks[-1].replace(",", "")) >= max(values), ticks
    bars = y_ticks(str(report_html.work_chart(labels, [1, 0, 3], [0, 2, 0])))
    assert bars == ["0", "1", "2", "3"]


def test_a_date_range_report_lists_exactly_the_runs_started_in_it(state_dir, small_sim):
    store = StateStore(state_dir)
    for run_id, started in (
        ("r-oct", "2026-10-31T02:00:00Z"),
        ("r-nov1", "2026-11-01T02:00:00Z"),
        ("r-nov30", "2026-11-30T02:00:00Z"),
        ("r-dec", "2026-12-01T02:00:00Z"),
    ):
        store.start_run(run_id, "sim", "nightly", False)
        store.db.execute("UPDATE runs SET started_at = ? WHERE run_id = ?", (started, run_id))
    store.close()
    store = StateStore(state_dir, read_only=True)

    _, _, html = report_html.render(
        store,
        settings_for(small_sim),
        since=report_html.parse_day("2026-11-01"),
        until=report_html.parse_day("2026-11-30", end=True),
    )
    store.close()

    assert "r-nov1" in html and "r-nov30" in html
    assert "r-oct" not in html and "r-dec" not in html


@pytest.mark.slow
def test_report_command_writes_the_latest_run_and_refuses_bad_arguments(tmp_path, small_sim):
    command = simulated_command(tmp_path, small_sim, "run", "--stage", "decline")
    subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    config, state = str(tmp_path / "c.toml"), str(tmp_path / "state")

    written = run_cli(
        "report", "--config", config, "--state-dir", state, "--output", str(tmp_path / "r.html")
    )
    both = run_cli(
        "report", "--config", config, "--state-dir", state, "--run", "x", "--since", "2026-01-01"
    )
    bad_date = run_cli("report", "--config", config, "--state-dir", state, "--since", "November")

    assert written.returncode == 0, written.stderr
    assert "<svg" in (tmp_path / "r.html").read_text(encoding="utf-8") or "trend needs" in (
        tmp_path / "r.html"
    ).read_text(encoding="utf-8")
    assert both.returncode == 2 and "not both" in both.stderr
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr


@pytest.mark.slow
def test_run_writes_the_report_after_the_run(tmp_path, small_sim):
    reports = tmp_path / "reports"
    command = simulated_command(
        tmp_path,
        small_sim,
        "run",
        "--stage",
        "decline",
        extra=f'[report]\nhtml_dir = "{reports}"\n',
    )

    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)

    assert result.returncode == 0, result.stderr
    written = list(reports.glob("report-sim-*.html"))
    assert len(written) == 1
    assert "<h2>Stages</h2>" in written[0].read_text(encoding="utf-8")


@pytest.mark.slow
def test_scheduled_runs_write_the_report_too(tmp_path, small_sim):
    from jobs.schedule import run_job
    from jobs.settings.model import ScheduleJob

    reports = tmp_path / "reports"
    settings = settings_for(
        small_sim,
        backup={"gate": "off"},
        report={"html_dir": str(reports)},
        profiles={"d": {"stages": ["decline"]}},
    )

    run_job(
        settings,
        tmp_path / "state",
        "nightly",
        ScheduleJob(profile="d", target="sim", cron="0 1 * * *"),
        threading.Event(),
    )

    assert len(list(reports.glob("report-sim-*.html"))) == 1


@pytest.mark.slow
def test_a_report_failure_is_an_event_and_never_fails_the_run(
    tmp_path, three_nights, event_log: EventLog
):
    small_sim, state_dir, run_ids = three_nights
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    unwritable = settings_for(
        small_sim, backup={"gate": "off"}, report={"html_dir": str(blocker / "reports")}
    )
    unreachable = settings_for(
        small_sim,
        report={
            "email": {
                "to": ["a@example.com"],
                "sender": "s@example.com",
                "smtp_host": "127.0.0.1",
                "smtp_port": free_port(),
                "security": "none",
                "after_run": True,
            }
        },
    )
    run_id = run_ids[-1]

    report_html.after_run(unwritable, state_dir, run_id)  # neither may raise
    report_html.after_run(unreachable, state_dir, run_id)

    errors = [event["error"] for event in event_log.named("report.fail")]
    assert len(errors) == 2
    assert errors[0].startswith(("NotADirectoryError", "FileExistsError"))
    assert errors[1].startswith("ConnectionRefusedError")


# -- e-mail ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def certificate(tmp_path):
    trustme = pytest.importorskip("trustme", reason="trustme is a test dependency")
    authority = trustme.CA()
    server_cert = authority.issue_cert("127.0.0.1", "localhost")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    return server_context, ca_file


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        from aiosmtpd.smtp import AuthResult

        login = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(login)
        return AuthResult(success=login == ("reporter", "s3cret-Pa55"))


def smtp_server(inbox: Inbox, **options: Any):  # type: ignore[no-untyped-def]
    controller_module = pytest.importorskip(
        "aiosmtpd.controller", reason="aiosmtpd is a test dependency"
    )
    controller = controller_module.Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=inbox.authenticate, **options
    )
    controller.start()
    return controller


def email_settings(port: int, ca_file: Path, security: str) -> ReportEmailSettings:
    return ReportEmailSettings(
        to=["wsus-admins@example.com"],
        sender="susdb-maint@example.com",
        smtp_host="127.0.0.1",
        smtp_port=port,
        security=security,  # type: ignore[arg-type]
        ca_file=str(ca_file),
        username="reporter",
        password_env="TEST_SMTP_PASSWORD",
        after_run=True,
    )


@pytest.mark.slow
def test_report_is_sent_over_starttls_with_the_password_from_the_environment(
    certificate, three_nights, monkeypatch, event_log: EventLog
):
    small_sim, state_dir, run_ids = three_nights
    server_context, ca_file = certificate
    inbox = Inbox()
    controller = smtp_server(
        inbox, tls_context=server_context, require_starttls=True, auth_require_tls=True
    )
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret-Pa55")
    try:
        run_id = run_ids[0]
        settings = settings_for(
            small_sim,
            report={"email": email_settings(controller.port, ca_file, "starttls").model_dump()},
        )
        report_html.after_run(settings, state_dir, run_id)
    finally:
        controller.stop()

    assert inbox.logins == [("reporter", "s3cret-Pa55")]
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["wsus-admins@example.com"]
    assert run_id in message["Subject"]
    parts = {part.get_content_type(): part for part in message.walk()}
    assert "text/plain" in parts and "text/html" in parts
    assert any(part.get_filename() == f"report-sim-{run_id}.html" for part in message.walk())
    # RFC 5322's Date and Message-ID: without them mail systems score the report as spam.
    assert message["Date"] and message["Message-ID"].endswith("@example.com>")
    assert event_log.named("report.email_sent")
    assert "s3cret-Pa55" not in "\n".join(event_log.lines)


def test_report_is_sent_over_implicit_tls(certificate, small_sim, state_dir, monkeypatch):
    server_context, ca_file = certificate
    inbox = Inbox()
    controller = smtp_server(inbox, ssl_context=server_context, auth_require_tls=False)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret-Pa55")
    try:
        settings = email_settings(controller.port, ca_file, "tls")
        mail.send(
            settings, mail.build_message(settings, "subject", "text", "<p>html</p>", "r.html")
        )
    finally:
        controller.stop()

    assert [message["Subject"] for _, message in inbox.messages] == ["subject"]


def test_a_server_certificate_that_is_not_trusted_is_refused(certificate, tmp_path, monkeypatch):
    server_context, _ = certificate
    trustme = pytest.importorskip("trustme")
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    inbox = Inbox()
    controller = smtp_server(inbox, tls_context=server_context, require_starttls=True)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret-Pa55")
    try:
        settings = email_settings(controller.port, other_ca, "starttls")
        with pytest.raises(ssl.SSLCertVerificationError):
            mail.send(settings, mail.build_message(settings, "s", "t", "<p>h</p>", "r.html"))
    finally:
        controller.stop()

    assert inbox.messages == [] and inbox.logins == []


def test_email_settings_refuse_an_inline_password_and_need_host_and_sender():
    with pytest.raises(ValueError, match="inline passwords"):
        ReportEmailSettings(password="x")
    with pytest.raises(ValueError, match="smtp_host and sender"):
        ReportEmailSettings(to=["a@example.com"])


# -- a real browser ----------------------------------------------------------------------------
BROWSER = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)


@pytest.mark.slow
@pytest.mark.skipif(
    BROWSER is None, reason="no headless Chromium here (Debian: apt-get install chromium)"
)
def test_the_report_renders_in_a_headless_browser_without_network(three_nights, tmp_path):
    small_sim, state_dir, run_ids = three_nights
    _, _, html = render_run(state_dir, small_sim, run_ids[-1])
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    flags = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--hide-scrollbars",
    ]

    dom = subprocess.run(
        [*flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    shot = subprocess.run(
        [
            *flags,
            "--window-size=1280,1800",
            f"--screenshot={tmp_path / 'report.png'}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert dom.returncode == 0, dom.stderr[-2000:]
    assert len(re.findall(r"<svg\b", dom.stdout)) >= 5
    assert "Declined and deleted per run" in dom.stdout
    assert shot.returncode == 0 and (tmp_path / "report.png").stat().st_size > 30_000


def test_a_run_report_says_what_was_declined_per_reason_left_alone_and_found_amiss(
    tmp_path, state_dir
):
    """Issue 22: a count in the report for updates left alone because a category title did not
    resolve, Configuration Manager's mismatches both ways, and what was declined per reason once
    the queue has drained (the stage's own counts are of what is still queued)."""
    path, settings = a_catalog_with_decline_findings(tmp_path)
    result = run(settings, state_dir, stages=["decline"])
    assert result.stages[-1].remaining == 0

    _, text, html = render_run(state_dir, path, result.run_id)

    row = next(line for line in html.splitlines() if "declined: " in line)
    assert row.strip() == (
        "<td>declined: rule:Servicing Stack 1; 1 left alone: a category title did not resolve; "
        "Configuration Manager deploys 2: 1 candidate(s) kept, 1 declined in WSUS</td></tr>"
    )
    findings = (
        "1 update(s) left alone by product, classification and keep_products rules: a product "
        "or classification title did not resolve (events decline.category_unresolved)",
        "1 candidate(s) kept because Configuration Manager deploys them (events decline.deployed)",
        "1 update(s) Configuration Manager deploys are declined in WSUS: their clients report "
        "them not required (events configmgr.declined_but_deployed)",
    )
    for sentence in findings:
        assert f"<li>{sentence}</li>" in html
        assert f"{sentence}.\n" in text
    assert "Declined 1 update(s) (rule:Servicing Stack 1).\n" in text


def test_a_report_with_nothing_left_alone_lists_no_findings(state_dir, small_sim):
    store = StateStore(state_dir)
    store.start_run("20261125T020000Z-aaaaaa", "sim", "nightly", False)
    record_decline(
        store, "20261125T020000Z-aaaaaa", "sim", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", None,
        "Update", "expired",
    )  # fmt: skip
    store.close()

    _, text, html = render_run(state_dir, small_sim, "20261125T020000Z-aaaaaa")

    assert "Left alone or found amiss" not in html and "Configuration Manager" not in html
    assert "Declined 1 update(s) (expired 1).\n" in text


def test_a_range_report_counts_deleted_updates_as_history_does():
    """Computers and rows deleted are not updates: the range table's column is what `history`
    calls deleted (a review found 388 + 206 + 1 + 440 shown as 1,035)."""
    from jobs.report_html import RunView

    stages = [
        {"stage": "obsolete_updates", "done": 388},
        {"stage": "compress", "done": 206},
        {"stage": "computers", "done": 1},
        {"stage": "sync_history", "done": 440},
    ]
    assert RunView(run={}, stages=stages, kpis={}, declined=[]).updates_deleted == 388
