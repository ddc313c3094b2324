from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from jobs.db import connection as module
from jobs.errors import ConfigError
from jobs.settings.model import WID_PIPE, SqlServerTarget


def target(**values: object) -> SqlServerTarget:
    data = {"kind": "sqlserver", "server": "sql01.contoso.com", **values}
    return SqlServerTarget.model_validate(data)


def wid_target(**values: object) -> SqlServerTarget:
    # WID is validated as Windows-only; build it past validation to test the string on any OS.
    return SqlServerTarget.model_construct(
        kind="sqlserver",
        server=None,
        port=None,
        database="SUSDB",
        wid=True,
        wid_legacy_pipe=None,
        auth="windows",
        username=None,
        password_env=None,
        password_file=None,
        password=None,
        encrypt=None,
        trust_server_certificate=False,
        driver=None,
        login_timeout=30,
        query_timeout=600,
        upstream=None,
    )


def test_tcp_with_windows_auth_is_trusted_and_encrypted_by_default():
    text = module.connection_string(target(port=1433), "ODBC Driver 18 for SQL Server", None)
    assert text == (
        "DRIVER={ODBC Driver 18 for SQL Server};SERVER=sql01.contoso.com,1433;DATABASE={SUSDB};"
        "APP=susdb-maint;Trusted_Connection=yes;Encrypt=mandatory;TrustServerCertificate=no;"
        "ConnectRetryCount=0;"
    )


def test_microsofts_drivers_never_reconnect_behind_the_runs_back():
    """Idle connection resiliency would restore a broken session's settings but not its
    application lock: the Microsoft drivers are told not to reconnect by themselves."""
    for driver in ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server"):
        assert "ConnectRetryCount=0;" in module.connection_string(target(port=1433), driver, None)
    assert "ConnectRetryCount" not in module.connection_string(
        target(port=1433, encrypt="optional"), "FreeTDS", None
    )


def test_sql_auth_sends_uid_and_a_braced_password():
    text = module.connection_string(
        target(auth="sql", username="maint", password_env="P"),
        "ODBC Driver 17 for SQL Server",
        "a}b",
    )
    assert "UID={maint};PWD={a}}b};" in text and "Trusted_Connection" not in text


def test_the_wid_pipe_defaults_to_optional_encryption():
    text = module.connection_string(wid_target(), "ODBC Driver 18 for SQL Server", None)
    assert (
        f"SERVER={WID_PIPE};" in text
        and "Encrypt=optional;" in text
        and "Trusted_Connection=yes" in text
    )


def test_a_config_that_still_sets_the_ssee_pipe_gets_one_clear_line():
    with pytest.raises(ValidationError) as caught:
        target(wid_legacy_pipe=True)
    (problem,) = caught.value.errors()
    assert "wid_legacy_pipe was removed" in problem["msg"] and "SQL Server 2005" in problem["msg"]


@pytest.mark.parametrize("mode", ["mandatory", "optional", "strict"])
def test_driver_18_takes_the_encryption_mode_as_it_is(mode):
    text = module.connection_string(
        target(encrypt=mode, trust_server_certificate=True), "ODBC Driver 18 for SQL Server", None
    )
    assert f"Encrypt={mode};TrustServerCertificate=yes;" in text


@pytest.mark.parametrize(("mode", "sent"), [("mandatory", "yes"), ("optional", "no")])
def test_driver_17_gets_yes_or_no(mode, sent):
    text = module.connection_string(target(encrypt=mode), "ODBC Driver 17 for SQL Server", None)
    assert f"Encrypt={sent};TrustServerCertificate=no;" in text


def test_driver_17_cannot_honour_strict_and_says_so_naming_the_setting_and_the_driver():
    with pytest.raises(ConfigError) as caught:
        module.connection_string(target(encrypt="strict"), "ODBC Driver 17 for SQL Server", None)
    (line,) = caught.value.problems
    assert line.startswith("encrypt: 'strict'") and "'ODBC Driver 17 for SQL Server'" in line


def test_freetds_gets_its_own_keywords_server_and_port_apart():
    text = module.connection_string(
        target(port=1433, trust_server_certificate=True), "FreeTDS", None
    )
    assert "SERVER=sql01.contoso.com;PORT=1433;TDS_Version=7.4;" in text
    assert text.endswith("Encryption=require;") and "Encrypt=" not in text
    assert "TrustServerCertificate" not in text
    optional = module.connection_string(target(encrypt="optional"), "FreeTDS", None)
    assert optional.endswith("Encryption=request;")


def test_freetds_without_a_ca_file_cannot_check_a_certificate_so_it_needs_trust_said_aloud():
    with pytest.raises(ConfigError) as caught:
        module.connection_string(target(), "FreeTDS", None)
    (line,) = caught.value.problems
    assert line.startswith("trust_server_certificate: false cannot be honoured by FreeTDS")
    assert "set ca_file" in line


def test_freetds_with_a_ca_file_goes_through_a_freetds_conf_section_that_checks_it(tmp_path):
    ca = tmp_path / "contoso-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    text = module.connection_string(
        target(server="sql01.contoso.com\\WSUS", ca_file=str(ca)), "FreeTDS", None
    )
    (section,) = [
        part.split("=", 1)[1] for part in text.split(";") if part.startswith("Servername=")
    ]
    assert "SERVER=" not in text and text.endswith("Encryption=require;")
    written = Path(os.environ["FREETDSCONF"]).read_text()
    block = written[written.index(f"[{section}]") :].split("\n[")[0]
    assert f"\tca file = {ca}\n" in block
    assert "\thost = sql01.contoso.com\n" in block and "\tinstance = WSUS\n" in block


@pytest.mark.parametrize(
    ("values", "refused"),
    [
        ({"ca_file": "/etc/ssl/ca.pem;x"}, "cannot be written to freetds.conf"),
        ({"ca_file": "/etc/ssl/ca#1.pem"}, "cannot be written to freetds.conf"),
        ({"ca_file": "/nowhere/ca.pem"}, "is not a readable file"),
        ({"ca_file": "/etc/hostname", "trust_server_certificate": True}, "give one of them"),
    ],
)
def test_a_ca_file_freetds_cannot_use_is_one_line(values, refused):
    with pytest.raises(ConfigError, match=refused):
        module.connection_string(target(**values), "FreeTDS", None)


def test_microsofts_drivers_refuse_a_ca_file_they_have_no_setting_for(tmp_path):
    with pytest.raises(ConfigError, match=r"ca_file: .*system's trusted CAs"):
        module.connection_string(
            target(ca_file=str(tmp_path)), "ODBC Driver 18 for SQL Server", None
        )


def test_freetds_cannot_reach_the_wid_pipe():
    with pytest.raises(ConfigError, match="FreeTDS cannot open the Windows Internal Database"):
        module.connection_string(wid_target(), "FreeTDS", None)


@pytest.mark.parametrize("driver", ["SQL Server", "SQL Server Native Client 11.0"])
def test_the_in_box_windows_drivers_are_refused_in_one_clear_line(driver):
    with pytest.raises(ConfigError) as caught:
        module.choose_driver(driver, [driver, "ODBC Driver 18 for SQL Server"])
    (line,) = caught.value.problems
    assert "is not supported" in line and "'ODBC Driver 18 for SQL Server'" in line


def test_a_configured_driver_that_is_not_installed_names_the_installed_ones():
    with pytest.raises(ConfigError) as caught:
        module.choose_driver("ODBC Driver 18 for SQL Server", ["FreeTDS", "PostgreSQL Unicode"])
    (line,) = caught.value.problems
    assert "'ODBC Driver 18 for SQL Server' is not installed" in line
    assert "'FreeTDS', 'PostgreSQL Unicode'" in line


def test_driver_auto_detection_prefers_the_newest_microsoft_driver_then_freetds():
    assert (
        module.choose_driver(
            None, ["FreeTDS", "ODBC Driver 17 for SQL Server", "ODBC Driver 18 for SQL Server"]
        )
        == "ODBC Driver 18 for SQL Server"
    )
    assert (
        module.choose_driver(None, ["FreeTDS", "ODBC Driver 17 for SQL Server"])
        == "ODBC Driver 17 for SQL Server"
    )
    assert module.choose_driver(None, ["FreeTDS", "SQL Server"]) == "FreeTDS"
    assert (
        module.choose_driver(
            None, ["ODBC Driver 17 for SQL Server", "ODBC Driver 19 for SQL Server"]
        )
        == "ODBC Driver 19 for SQL Server"
    )


def test_no_suitable_driver_lists_what_is_installed():
    with pytest.raises(ConfigError) as caught:
        module.choose_driver(None, ["PostgreSQL Unicode"])
    assert "PostgreSQL Unicode" in caught.value.problems[0]


def test_an_unset_password_variable_is_a_config_error_naming_it():
    with pytest.raises(ConfigError) as caught:
        module.resolve_password(
            target(auth="sql", username="u", password_env="NOT_SET_ANYWHERE"), {}
        )
    assert "NOT_SET_ANYWHERE" in caught.value.problems[0]


def test_a_password_file_gives_its_first_line(tmp_path):
    (tmp_path / "secret").write_text("pa55word\nignored\n")
    assert (
        module.resolve_password(
            target(auth="sql", username="u", password_file=str(tmp_path / "secret"))
        )
        == "pa55word"
    )


@pytest.mark.parametrize(
    ("written", "how"),
    [
        ("pa55word\r\n".encode("utf-8-sig"), "Notepad: UTF-8 with a byte-order mark, CRLF"),
        ("pa55word\r\n".encode("utf-16"), "PowerShell 5's >: UTF-16 with a byte-order mark"),
        (b"pa55word", "no line end at all"),
    ],
)
def test_a_password_file_is_read_as_windows_writes_it(tmp_path, written, how):
    (tmp_path / "secret").write_bytes(written)
    password_file = str(tmp_path / "secret")
    resolved = module.resolve_password(
        target(auth="sql", username="u", password_file=password_file)
    )
    assert resolved == "pa55word", how


@pytest.mark.parametrize("written", [b"", b"\r\n", b"\n\npa55word\n", b"\xff\xfe\x00"])
def test_an_empty_blank_or_unreadable_password_file_is_one_line(tmp_path, written):
    (tmp_path / "secret").write_bytes(written)
    with pytest.raises(module.ConfigError) as caught:
        module.resolve_password(
            target(auth="sql", username="u", password_file=str(tmp_path / "secret"))
        )
    (line,) = caught.value.problems
    assert line.startswith("password_file: ") and str(tmp_path / "secret") in line


def test_a_closing_brace_in_a_password_is_refused_for_freetds_which_cannot_read_it():
    sql_login = target(auth="sql", username="maint", password_env="P", encrypt="optional")
    with pytest.raises(module.ConfigError, match="FreeTDS cannot receive"):
        module.connection_string(sql_login, "FreeTDS", "a}b")
    assert "PWD={a}}b};" in module.connection_string(
        sql_login, "ODBC Driver 18 for SQL Server", "a}b"
    )


def test_the_installed_odbc_drivers_can_be_listed_where_unixodbc_exists():
    pyodbc = pytest.importorskip(
        "pyodbc", reason="pyodbc cannot load here (no unixODBC library)", exc_type=ImportError
    )
    assert isinstance(pyodbc.drivers(), list)
