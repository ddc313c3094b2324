"""The classifier, with message strings as SQL Server and the ODBC drivers write them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs import errors
from jobs.db.classify import classify, native_of, sqlstate_of


class Error(Exception):
    """Stands in for pyodbc.Error: the classifier reads only ``args``."""


REAL = [
    (
        (
            "40001",
            "[40001] [Microsoft][ODBC Driver 17 for SQL Server][SQL Server]Transaction (Process ID 52) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction. (1205) (SQLExecDirectW)",
        ),
        errors.TransientError,
        1205,
    ),
    (
        (
            "HY000",
            "[HY000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Lock request time out period exceeded. (1222) (SQLExecDirectW)",
        ),
        errors.TransientError,
        1222,
    ),
    (
        (
            "HYT00",
            "[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Query timeout expired (0) (SQLExecDirectW)",
        ),
        errors.StatementTimeout,
        0,
    ),
    (
        (
            "08S01",
            "[08S01] [Microsoft][ODBC Driver 18 for SQL Server]TCP Provider: An existing connection was forcibly closed by the remote host.\r\n (10054) (SQLExecDirectW)",
        ),
        errors.ConnectionLost,
        10054,
    ),
    (
        (
            "08S01",
            "[08S01] [FreeTDS][SQL Server]Unable to connect: Adaptive Server is unavailable or does not exist (20009) (SQLDriverConnect)",
        ),
        errors.ConnectionLost,
        20009,
    ),
    (
        (
            "08001",
            "[08001] [Microsoft][ODBC Driver 18 for SQL Server]Named Pipes Provider: Could not open a connection to SQL Server [2].  (2) (SQLDriverConnect)",
        ),
        errors.ConnectionLost,
        2,
    ),
    (
        (
            "28000",
            "[28000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Login failed for user 'susdb_maint'. (18456) (SQLDriverConnect)",
        ),
        errors.LoginFailed,
        18456,
    ),
    (
        (
            "42000",
            "[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]The EXECUTE permission was denied on the object 'spDeleteUpdate', database 'SUSDB', schema 'dbo'. (229) (SQLExecDirectW)",
        ),
        errors.NotPermitted,
        229,
    ),
    (
        (
            "42000",
            "[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]The user does not have permission to perform this action. (297) (SQLExecDirectW)",
        ),
        errors.NotPermitted,
        297,
    ),
    (
        (
            "42000",
            "[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]User does not have permission to perform this action. (1088) (SQLExecDirectW)",
        ),
        errors.NotPermitted,
        1088,
    ),
    (
        (
            "42000",
            "[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Cannot perform this action when the server is in replica mode (50000) (SQLExecDirectW)",
        ),
        errors.ReplicaRefused,
        50000,
    ),
    (
        (
            "42000",
            "[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]spDeleteUpdate got error: cannot delete update as it is still referenced by other update(s) (50000) (SQLExecDirectW)",
        ),
        errors.StillReferenced,
        50000,
    ),
    (
        (
            "42S02",
            "[42S02] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Invalid object name 'dbo.tbNope'. (208) (SQLExecDirectW)",
        ),
        errors.DatabaseError,
        208,
    ),
    # FreeTDS, as it really reports errors from a server (seen through the served simulator,
    # tests/integration/test_real_driver.py): its own SQLSTATE table, keyed by the native number.
    (
        (
            "42000",
            "[42000] [FreeTDS][SQL Server]Transaction (Process ID 57) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction. (1205) (SQLExecDirectW)",
        ),
        errors.TransientError,
        1205,
    ),
    (
        (
            "42000",
            "[42000] [FreeTDS][SQL Server]Lock request time out period exceeded. (1222) (SQLExecDirectW)",
        ),
        errors.TransientError,
        1222,
    ),
    (
        # A TCP reset mid-statement, as FreeTDS reports it through pyodbc (network-review D3).
        ("HY000", "[HY000] [FreeTDS][SQL Server]Unknown error (0) (SQLExecDirectW)"),
        errors.ConnectionLost,
        0,
    ),
    (
        (
            "01000",
            "[01000] [FreeTDS][SQL Server]Unexpected EOF from the server (20017) (SQLExecDirectW)",
        ),
        errors.ConnectionLost,
        20017,
    ),
    (
        (
            "08S01",
            "[08S01] [FreeTDS][SQL Server]Write to the server failed (20006) (SQLExecDirectW)",
        ),
        errors.ConnectionLost,
        20006,
    ),
    (
        ("HYT00", "[HYT00] [FreeTDS][SQL Server]Timeout expired (0) (SQLExecDirectW)"),
        errors.StatementTimeout,
        0,
    ),
    (
        ("HY008", "[HY008] [FreeTDS][SQL Server]Operation was cancelled (0) (SQLExecDirectW)"),
        errors.StatementTimeout,
        0,
    ),
    (
        (
            "42000",
            "[42000] [FreeTDS][SQL Server]Login failed for user 'susdb_maint'. (18456) (SQLDriverConnect)",
        ),
        errors.LoginFailed,
        18456,
    ),
    # pyodbc sometimes puts the message first (issue #1206).
    (
        (
            "[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Query timeout expired (0) (SQLExecDirectW)",
            "HYT00",
        ),
        errors.StatementTimeout,
        0,
    ),
]


@pytest.mark.parametrize(("args", "expected", "native"), REAL)
def test_real_messages_classify_to_the_right_class(args, expected, native):
    result = classify(Error(*args), "some_statement")
    assert type(result) is expected
    assert result.native == native
    assert result.statement == "some_statement"
    assert not str(result).startswith("[")  # the driver prefixes are stripped


def test_transient_and_connection_errors_are_retryable_and_only_they():
    retryable = {cls for (_, cls, _) in REAL if cls.retryable}
    assert retryable == {errors.TransientError, errors.ConnectionLost}
    assert errors.ConnectionLost.reconnect and not errors.TransientError.reconnect


def test_the_sqlstate_is_found_in_either_argument():
    assert sqlstate_of(Error("08S01", "text")) == "08S01"
    assert sqlstate_of(Error("text", "08S01")) == "08S01"
    assert sqlstate_of(Error("no state here")) is None


def test_the_native_number_is_the_one_before_the_odbc_function():
    assert (
        native_of(
            Error("[40001] Transaction (Process ID 57) was deadlocked (1205) (SQLExecDirectW)")
        )
        == 1205
    )


@given(st.text(max_size=200), st.text(max_size=200))
def test_the_classifier_never_raises_and_always_returns_a_project_error(first, second):
    assert isinstance(classify(Error(first, second)), errors.DatabaseError)


@given(st.sampled_from(REAL), st.text(alphabet="abc xyz", max_size=20))
def test_a_prefix_in_the_message_does_not_change_the_class(case, noise):
    (sqlstate, message), expected, _ = case
    if not sqlstate.startswith("["):
        assert type(classify(Error(sqlstate, message.replace("]", f"]{noise}", 1)))) is expected
