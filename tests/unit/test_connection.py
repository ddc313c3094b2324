from __future__ import annotations

import pytest

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
        wid_legacy_pipe=values.get("legacy", False),
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


def test_the_legacy_ssee_pipe_is_available():
    text = module.connection_string(wid_target(legacy=True), "ODBC Driver 18 for SQL Server", None)
    assert r"SERVER=np:\\.\pipe\MSSQL$MICROSOFT##SSEE\sql\query;" in text


@pytest.mark.parametrize("mode", ["mandatory", "optional", "strict"])
def test_encryption_modes_pass_through(mode):
    text = module.connection_string(
        target(encrypt=mode, trust_server_certificate=True), "ODBC Driver 18 for SQL Server", None
    )
    assert f"Encrypt={mode};TrustServerCertificate=yes;" in text


def test_freetds_gets_its_own_tls_and_protocol_keywords():
    text = module.connection_string(target(), "FreeTDS", None)
    assert (
        "TDS_Version=7.4;" in text
        and "Encrypt=yes;" in text
        and "TrustServerCertificate" not in text
    )


def test_driver_auto_detection_prefers_18_then_17_then_freetds():
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
    assert module.choose_driver(None, ["FreeTDS"]) == "FreeTDS"
    assert module.choose_driver("My Driver", []) == "My Driver"


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


def test_the_installed_odbc_drivers_can_be_listed_where_unixodbc_exists():
    pyodbc = pytest.importorskip(
        "pyodbc", reason="pyodbc cannot load here (no unixODBC library)", exc_type=ImportError
    )
    assert isinstance(pyodbc.drivers(), list)
