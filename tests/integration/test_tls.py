"""TLS through the real drivers, against the served simulator offering it as SQL Server does
(jobs/simulator/tds/tls.py): the login only or the whole session in TDS 7.x, and TDS 8 (strict),
with a certificate made for the test; a certificate the client cannot trust is refused."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import trustme

from jobs.db.connection import Endpoint, open_connection
from jobs.errors import ConfigError, DatabaseError
from jobs.exit_codes import ExitCode
from jobs.runner.options import RunOptions
from jobs.runner.plan import build_plan
from jobs.runner.run import execute_plan
from tests.helpers import cli_command, cli_env, configured_command, procedure_calls, run_cli
from tests.integration.drivers import DRIVER18, FREETDS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A test CA, and a server certificate it issued for localhost: (certificate, key, CA)."""
    folder = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    issued = authority.issue_cert("localhost", "127.0.0.1")
    chain, key, ca = folder / "server.pem", folder / "server.key", folder / "ca.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(key)
    authority.cert_pem.write_to_path(ca)
    return chain, key, ca


def query_through(served, **target) -> int:
    endpoint = Endpoint(
        "served", served.settings(target={"server": "localhost", **target}).targets["served"]
    )
    connection = open_connection(endpoint)
    try:
        cursor = connection.cursor()
        cursor.execute("-- name: probe\nSELECT COUNT(*) FROM tbUpdate")
        return int(cursor.fetchone()[0])
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("encrypt", "encrypted"),
    [("optional", "tls login"), ("mandatory", "tls session")],
)
def test_tds7_encrypts_the_login_or_the_whole_session_as_the_client_asks(
    serve, small_sim, certificate, encrypt, encrypted
):
    chain, key, _ = certificate
    served = serve(small_sim, time_scale=0, tls=(chain, key))
    assert query_through(served, encrypt=encrypt, trust_server_certificate=True) > 0
    assert served.server.stats[encrypted] == 1


def test_tds8_strict_runs_tls_before_anything_with_driver_18(
    serve, small_sim, certificate, odbc_driver, monkeypatch
):
    chain, key, ca = certificate
    served = serve(small_sim, time_scale=0, tls=(chain, key))
    if odbc_driver == FREETDS:
        with pytest.raises(ConfigError, match="strict"):
            query_through(served, encrypt="strict", trust_server_certificate=True)
        return
    # Strict checks the certificate whatever TrustServerCertificate says: the test CA is made
    # the one OpenSSL trusts, as an administrator installs the issuing CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    assert query_through(served, encrypt="strict") > 0
    assert served.server.stats["tls tds8"] == 1


def test_a_certificate_the_client_cannot_trust_is_refused(serve, small_sim, certificate):
    chain, key, _ = certificate
    served = serve(small_sim, time_scale=0, tls=(chain, key))
    if served.driver == FREETDS:
        # Without ca_file FreeTDS would accept any certificate: refused in one line before any
        # connection (connection.py), rather than a check that is not made.
        with pytest.raises(ConfigError, match="without ca_file"):
            query_through(served, encrypt="mandatory", trust_server_certificate=False)
        return
    assert served.driver == DRIVER18
    with pytest.raises(DatabaseError, match="certificate is not trusted"):
        query_through(served, encrypt="mandatory", trust_server_certificate=False)


def test_freetds_checks_the_certificate_against_ca_file(
    serve, small_sim, certificate, tmp_path, odbc_driver
):
    chain, key, ca = certificate
    served = serve(small_sim, time_scale=0, tls=(chain, key))
    if odbc_driver == DRIVER18:  # Driver 18 trusts the system's CAs: no file of its own
        with pytest.raises(ConfigError, match=r"ca_file: .* system's trusted CAs"):
            query_through(served, encrypt="mandatory", ca_file=str(ca))
        return
    assert query_through(served, encrypt="mandatory", ca_file=str(ca)) > 0
    stranger = tmp_path / "another-ca.pem"
    trustme.CA().cert_pem.write_to_path(stranger)
    with pytest.raises(DatabaseError, match="not issued by the CA in ca_file"):
        query_through(served, encrypt="mandatory", ca_file=str(stranger))
    assert served.server.stats["tls session"] == 2  # refused after the handshake, not before


def test_a_certificate_naming_another_host_is_refused(serve, small_sim, tmp_path, monkeypatch):
    authority = trustme.CA()
    issued = authority.issue_cert("sql01.contoso.com")
    chain, key, ca = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(key)
    authority.cert_pem.write_to_path(ca)
    served = serve(small_sim, time_scale=0, tls=(chain, key))
    if served.driver == FREETDS:
        with pytest.raises(DatabaseError, match="names another host"):
            query_through(served, encrypt="mandatory", ca_file=str(ca))
        return
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the issuing CA trusted, the name still wrong
    with pytest.raises(DatabaseError, match="certificate names another host"):
        query_through(served, encrypt="mandatory")


@pytest.mark.slow
def test_the_nightly_declines_and_deletions_run_over_tls_once_each(
    serve, small_sim, certificate, tmp_path
):
    chain, key, _ = certificate
    served = serve(small_sim, time_scale=0, tls=(chain, key))
    settings = served.settings(
        target={"server": "localhost", "encrypt": "mandatory", "trust_server_certificate": True}
    )
    plan = build_plan(
        settings, RunOptions(target="served", profile=None, stages=["decline", "obsolete_updates"])
    )
    report = execute_plan(plan, tmp_path / "state")
    assert report.exit_code == ExitCode.OK, report.stages
    assert served.server.stats["tls session"] >= 1 and "tls login" not in served.server.stats
    for procedure in ("spDeclineUpdate", "spDeleteUpdate"):
        sent = procedure_calls(small_sim, procedure)
        assert sent and max(sent.values()) == 1


@pytest.mark.slow
def test_the_serve_command_offers_tls_and_a_run_goes_through_it_once(
    small_sim, certificate, tmp_path, odbc_driver
):
    """From outside: `simulator serve --tls-cert --tls-key`, then the target it prints, with
    each driver, `encrypt = "mandatory"` and the certificate trusted."""
    chain, key, _ = certificate
    server = subprocess.Popen(
        cli_command(
            "simulator", "serve", "--sim", str(small_sim), "--time-scale", "0",
            "--tls-cert", str(chain), "--tls-key", str(key),
        ),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=cli_env(SUSDB_PASSWORD="demo-Passw0rd"),
    )  # fmt: skip
    try:
        assert server.stdout is not None
        printed = "".join(iter(server.stdout.readline, "Ctrl+C stops it.\n"))
        target = printed[printed.index("[targets.") :]
        assert 'encrypt = "mandatory"' in target and "TLS with the given certificate" in printed
        config = tmp_path / "served.toml"
        config.write_text(target.replace('driver = "FreeTDS"', f'driver = "{odbc_driver}"'))
        result = subprocess.run(
            configured_command(config, tmp_path / "state", "run", "--stage", "decline"),
            capture_output=True, text=True, timeout=300,
            env=cli_env(SUSDB_PASSWORD="demo-Passw0rd"),
        )  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert result.returncode == ExitCode.OK, result.stderr[-2000:]
    sent = procedure_calls(small_sim, "spDeclineUpdate")
    assert sent and max(sent.values()) == 1


def test_serve_refuses_a_certificate_without_its_key_in_one_line(small_sim, certificate):
    chain, _, _ = certificate
    result = run_cli(
        "simulator", "serve", "--sim", str(small_sim), "--tls-cert", str(chain),
        env={"SUSDB_PASSWORD": "x"},
    )  # fmt: skip
    assert result.returncode == ExitCode.BAD_USAGE
    assert result.stderr.strip() == (
        "susdb-maint: --tls-cert and --tls-key go together: give both, or neither"
    )
