"""The served simulator's TDS codec, without a driver: values, requests, packets, a raw login.

The same behaviour through FreeTDS is in tests/integration/test_real_driver.py; these run on any
machine, so a codec error is caught where unixODBC and FreeTDS are missing too.
"""

from __future__ import annotations

import socket
import struct
import uuid
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.simulator.tds import ServeOptions, SimulatorServer
from jobs.simulator.tds.datatypes import (
    COLUMN_TYPES,
    DATETIME2N,
    DECIMALN,
    NTEXT,
    NVARCHAR,
    infer_column_type,
    read_type_info,
    read_value,
)
from jobs.simulator.tds.placeholders import MissingParameter, bind, declared_names
from jobs.simulator.tds.requests import parse_login7, parse_prelogin, parse_rpc, parse_sql_batch
from jobs.simulator.tds.tokens import ENCRYPT_NOT_SUP, PRELOGIN_ENCRYPTION, Token, prelogin_answer
from jobs.simulator.tds.wire import PacketType, Reader, packets, read_message

COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])


# -- @P1 back to ? -------------------------------------------------------------------------------
def test_named_parameters_become_markers_in_order_of_use_and_nowhere_else():
    sql = (
        "-- name: x\nSELECT @P2, '@P1', N'it''s @P1', [@P1], \"@P1\" -- @P1\n"
        "/* @P1 /* nested @P2 */ still a comment @P1 */ FROM t WHERE a = @p1 AND b = @P10"
    )
    text, values = bind(
        sql, "@P1 int,@P2 nvarchar(4000),@P10 decimal(9, 2)", [("", 1), ("", "b"), ("", 3)]
    )
    assert values == ["b", 1, 3]
    assert text == sql.replace("SELECT @P2", "SELECT ?").replace("@p1", "?").replace("@P10", "?")
    assert text.startswith("-- name: x\n")


def test_named_values_match_their_declaration_whatever_the_order():
    text, values = bind("SELECT @a, @b", "@a int, @b int", [("@b", 2), ("@a", 1)])
    assert (text, values) == ("SELECT ?, ?", [1, 2])


def test_a_declared_parameter_without_a_value_is_refused():
    with pytest.raises(MissingParameter) as missing:
        bind("SELECT @P1, @P2", "@P1 int,@P2 int", [("", 1)])
    assert missing.value.name == "@P2"


def test_declared_names_ignore_commas_inside_type_arguments():
    assert declared_names("@P1 decimal(9, 2),@P2 nvarchar(max) OUTPUT, @P3 int") == [
        "@P1",
        "@P2",
        "@P3",
    ]


@given(st.text(alphabet="@P1?' -*/\n", max_size=30))
def test_text_inside_a_string_literal_is_never_touched(inside):
    literal = "'" + inside.replace("'", "''") + "'"
    text, values = bind(f"SELECT {literal}, @P1", "@P1 int", [("", 7)])
    assert text == f"SELECT {literal}, ?" and values == [7]


# -- values on the wire --------------------------------------------------------------------------
def parameter(type_info: bytes, value: bytes):
    reader = Reader(type_info + value)
    return read_value(reader, read_type_info(reader))


@pytest.mark.parametrize(
    ("type_info", "value", "expected"),
    [
        (b"\x26\x04", b"\x04" + struct.pack("<i", -5), -5),
        (b"\x26\x08", b"\x08" + struct.pack("<q", 2**40), 2**40),
        (b"\x26\x04", b"\x00", None),
        (b"\x68\x01", b"\x01\x01", True),
        (b"\x6d\x08", b"\x08" + struct.pack("<d", 2.5), 2.5),
        (bytes([NVARCHAR]) + struct.pack("<H", 8000) + COLLATION, b"\x04\x00h\x00i\x00", "hi"),
        (bytes([NVARCHAR]) + struct.pack("<H", 8000) + COLLATION, b"\xff\xff", None),
        (
            bytes([NVARCHAR, 0xFF, 0xFF]) + COLLATION,  # nvarchar(max): chunks, then a 0 chunk
            struct.pack("<Q", 4)
            + struct.pack("<I", 2)
            + b"a\x00"
            + struct.pack("<I", 2)
            + b"b\x00"
            + b"\0\0\0\0",
            "ab",
        ),
        (
            bytes([NTEXT]) + struct.pack("<I", 0x7FFFFFFE) + COLLATION,
            struct.pack("<I", 2) + b"z\x00",
            "z",
        ),
        (b"\xa7" + struct.pack("<H", 8000) + COLLATION, b"\x03\x00abc", "abc"),
        (
            b"\x24\x10",
            b"\x10" + uuid.UUID("12345678-1234-5678-9abc-def012345678").bytes_le,
            uuid.UUID("12345678-1234-5678-9abc-def012345678"),
        ),
        (b"\x6f\x08", b"\x08" + struct.pack("<iI", 1, 300), datetime(1900, 1, 2, 0, 0, 1)),
        (
            bytes([DATETIME2N, 7]),
            b"\x08" + (10**7).to_bytes(5, "little") + (1).to_bytes(3, "little"),
            datetime(1, 1, 2, 0, 0, 1),
        ),
        (bytes([DECIMALN, 5, 9, 2]), b"\x05\x00" + (1234).to_bytes(4, "little"), Decimal("-12.34")),
    ],
)
def test_parameter_values_of_each_type_the_drivers_send_are_read(type_info, value, expected):
    assert parameter(type_info, value) == expected


@pytest.mark.parametrize(
    ("values", "declared"),
    [
        ([1, None, -(2**31)], "int"),
        ([1, 2**40], "bigint"),
        ([True, False, None], "bit"),
        ([1, 2.5], "float"),
        (["2026-11-25 02:00:00", None], "datetime"),
        (["A0A08746-4DBE-4A37-9ADF-9E7652C0B421"], "uniqueidentifier"),
        (["Windows Server 2019", "A0A08746-4DBE-4A37-9ADF-9E7652C0B421"], "nvarchar(4000)"),
        (["x" * 4001], "nvarchar(max)"),
        ([b"\x00\x01"], "varbinary(max)"),
        ([None, None], "int"),
    ],
)
def test_a_result_column_is_declared_as_sql_server_would_from_its_values(values, declared):
    assert infer_column_type(values).name == declared


@given(
    st.sampled_from(sorted(COLUMN_TYPES)),
    st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
    st.text(max_size=50),
)
def test_every_result_type_reads_back_what_was_written(name, number, text):
    column = COLUMN_TYPES[name]
    value = {
        "int": number,
        "bigint": number,
        "bit": None if number is None else bool(number % 2),
        "float": None if number is None else number / 4,
        "datetime": None if number is None else datetime(2026, 11, 25, 2, 0, abs(number) % 60),
        "uniqueidentifier": None if number is None else uuid.UUID(int=abs(number)),
        "nvarchar(4000)": text,
        "nvarchar(max)": text,
        "varbinary(max)": text.encode(),
    }[name]
    assert parameter(column.type_info, column.encode(value)) == value


# -- requests ------------------------------------------------------------------------------------
def ucs2(text: str) -> bytes:
    return text.encode("utf-16-le")


def login7(user: str, password: str, database: str, tds_version: int = 0x74000004) -> bytes:
    """A LOGIN7 body as FreeTDS writes one ([MS-TDS] 2.2.6.4)."""
    scrambled = bytes((((byte << 4) & 0xF0) | (byte >> 4)) ^ 0xA5 for byte in ucs2(password))
    fields = [
        ucs2("host"),
        ucs2(user),
        scrambled,
        ucs2("app"),
        ucs2("srv"),
        b"",
        ucs2("lib"),
        b"",
        ucs2(database),
    ]
    offset, table, data = 94, b"", b""
    for value in fields:
        table += struct.pack("<HH", offset + len(data), len(value) // 2)
        data += value
    table += b"\0" * 6 + struct.pack("<HH", offset + len(data), 0)  # client id, SSPI
    table += struct.pack("<HHHHI", offset + len(data), 0, offset + len(data), 0, 0)
    fixed = (
        struct.pack("<IIIIII", 0, tds_version, 4096, 0, 0, 0)
        + bytes([0xE0, 0x03, 0, 0])
        + b"\0" * 8
    )
    body = fixed + table + data
    return struct.pack("<I", len(body)) + body[4:]


def all_headers() -> bytes:
    return struct.pack("<IIHQI", 22, 18, 2, 0, 1)  # the transaction descriptor header


def test_a_login_gives_its_user_unscrambled_password_database_and_version():
    login = parse_login7(login7("susdb_maint", "Pa$$w0rd!", "SUSDB"))
    assert (login.user, login.password, login.database) == ("susdb_maint", "Pa$$w0rd!", "SUSDB")
    assert login.tds_version == 0x74000004 and login.packet_size == 4096
    assert not login.integrated_security


def test_the_prelogin_answer_refuses_encryption():
    options = parse_prelogin(prelogin_answer((13, 0, 6300)))
    assert options[PRELOGIN_ENCRYPTION] == bytes([ENCRYPT_NOT_SUP])
    assert options[0][:2] == bytes([13, 0])


def test_a_sql_batch_is_its_text_after_the_headers():
    assert parse_sql_batch(all_headers() + ucs2("SELECT 1")) == "SELECT 1"


def test_an_sp_prepexec_call_as_freetds_sends_it_is_read():
    def nvarchar(value: str) -> bytes:
        return (
            bytes([NVARCHAR])
            + struct.pack("<H", 8000)
            + COLLATION
            + struct.pack("<H", len(ucs2(value)))
            + ucs2(value)
        )

    payload = (
        all_headers()
        + struct.pack("<HHH", 0xFFFF, 13, 0)  # by procedure id: sp_prepexec
        + b"\x00\x01\x26\x04\x00"  # @handle int OUTPUT, NULL
        + b"\x00\x00"
        + nvarchar("@P1 INT")
        + b"\x00\x00"
        + nvarchar("SELECT @P1")
        + b"\x00\x00\x26\x04\x04"
        + struct.pack("<i", 42)
    )
    (call,) = parse_rpc(payload)
    assert call.procedure == "sp_prepexec"
    assert [parameter.value for parameter in call.parameters] == [None, "@P1 INT", "SELECT @P1", 42]
    assert call.parameters[0].output


# -- packets -------------------------------------------------------------------------------------
def test_a_message_split_in_packets_is_read_back_whole_and_an_attention_on_its_own():
    left, right = socket.socketpair()
    with left, right:
        left.sendall(packets(PacketType.SQL_BATCH, b"x" * 10_000, 512, 0, last=True))
        left.sendall(packets(PacketType.ATTENTION, b"", 512, 0, last=True))
        message = read_message(right)
        assert message is not None and (message.type, message.payload) == (
            PacketType.SQL_BATCH,
            b"x" * 10_000,
        )
        attention = read_message(right)
        assert attention is not None and attention.type == PacketType.ATTENTION


# -- a raw session -------------------------------------------------------------------------------
@pytest.fixture
def server(small_sim):
    with SimulatorServer(
        ServeOptions(sim=small_sim, user="susdb_maint", password="right")
    ) as served:
        yield served


def logged_in(server: SimulatorServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.sendall(packets(PacketType.PRELOGIN, b"\xff", 4096, 0, last=True))
    read_message(sock)
    login = login7("susdb_maint", "right", "SUSDB")
    sock.sendall(packets(PacketType.LOGIN7, login, 4096, 0, last=True))
    answer = read_message(sock)
    assert answer is not None and bytes([Token.LOGINACK]) in answer.payload
    return sock


def nvarchar_parameter(name: str, value: str) -> bytes:
    encoded = ucs2(value)
    return (
        bytes([len(name)]) + ucs2(name) + b"\x00"
        + bytes([NVARCHAR]) + struct.pack("<H", 8000) + COLLATION
        + struct.pack("<H", len(encoded)) + encoded
    )  # fmt: skip


def test_sp_executesql_with_a_named_parameter_runs_through_the_simulator(server):
    probe = "-- name: probe\nSELECT LocalUpdateID FROM tbUpdate WHERE LocalUpdateID = @id"
    payload = (
        all_headers()
        + struct.pack("<H", len("sp_executesql")) + ucs2("sp_executesql") + b"\x00\x00"
        + nvarchar_parameter("@stmt", probe)
        + nvarchar_parameter("@params", "@id int")
        + bytes([3]) + ucs2("@id") + b"\x00\x26\x04\x04" + struct.pack("<i", 1)
    )  # fmt: skip
    with logged_in(server) as sock:
        sock.sendall(packets(PacketType.RPC, payload, 4096, 0, last=True))
        answer = read_message(sock)
    assert answer is not None
    body = answer.payload
    assert body[0] == Token.COLMETADATA and ucs2("LocalUpdateID") in body
    assert bytes([Token.ROW, 4]) + struct.pack("<i", 1) in body  # the row: int 1
    assert server.stats["rpc sp_executesql"] == 1 and server.stats["received probe"] == 1


def rpc_by_id(procedure_id: int, *parameters: bytes) -> bytes:
    return all_headers() + struct.pack("<HHH", 0xFFFF, procedure_id, 0) + b"".join(parameters)


def int_parameter(value: int | None, *, output: bool = False) -> bytes:
    data = b"\x00" if value is None else b"\x04" + struct.pack("<i", value)
    return b"\x00" + bytes([int(output)]) + b"\x26\x04" + data


def call(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(packets(PacketType.RPC, payload, 4096, 0, last=True))
    answer = read_message(sock)
    assert answer is not None
    return answer.payload


def test_sp_prepare_gives_a_handle_that_sp_execute_runs_and_sp_unprepare_forgets(server):
    probe = "-- name: probe\nSELECT LocalUpdateID FROM tbUpdate WHERE LocalUpdateID = @P1"
    with logged_in(server) as sock:
        prepared = call(
            sock,
            rpc_by_id(
                11,  # sp_prepare
                int_parameter(None, output=True),
                nvarchar_parameter("", "@P1 int"),
                nvarchar_parameter("", probe),
                int_parameter(1),
            ),
        )
        # RETURNVALUE: ordinal, no name, output status, user type, flags, INTN(4), then the value
        marker = prepared.index(bytes([Token.RETURNVALUE]))
        (handle,) = struct.unpack_from("<i", prepared, marker + 1 + 2 + 1 + 1 + 4 + 2 + 2 + 1)
        executed = call(sock, rpc_by_id(12, int_parameter(handle), int_parameter(1)))
        call(sock, rpc_by_id(15, int_parameter(handle)))  # sp_unprepare
        forgotten = call(sock, rpc_by_id(12, int_parameter(handle), int_parameter(1)))
    assert bytes([Token.ROW, 4]) + struct.pack("<i", 1) in executed
    assert forgotten[0] == Token.ERROR and struct.unpack_from("<i", forgotten, 3)[0] == 8179
    assert server.stats["received probe"] == 1


def test_an_attention_cancels_a_running_statement_and_is_answered_with_done_attn(small_sim):
    options = ServeOptions(sim=small_sim, user="susdb_maint", password="right", time_scale=1)
    with SimulatorServer(options) as server, logged_in(server) as sock:
        # spDeleteUpdate is modelled at over a second: still running when the attention comes.
        delete = "-- name: delete_update\nEXEC dbo.spDeleteUpdate @localUpdateID = 1"
        sock.sendall(
            packets(PacketType.SQL_BATCH, all_headers() + ucs2(delete), 4096, 0, last=True)
        )
        sock.sendall(packets(PacketType.ATTENTION, b"", 4096, 0, last=True))
        answer = read_message(sock)
        assert answer is not None
        assert answer.payload == struct.pack("<BHHQ", Token.DONE, 0x20, 0, 0)  # DONE_ATTN only
        assert server.stats["cancelled delete_update"] == 1


def raw_login(
    server: SimulatorServer, password: str, database: str = "SUSDB", silence: float = 2
) -> tuple[bytes, bytes]:
    """Pre-login and login over a plain socket; return the login answer and what follows it:
    ``b""`` when the server closes the connection, ``b"(still open)"`` after ``silence`` seconds
    without a byte or a close."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(packets(PacketType.PRELOGIN, b"\xff", 4096, 0, last=True))
        assert read_message(sock) is not None
        sock.sendall(
            packets(
                PacketType.LOGIN7, login7("susdb_maint", password, database), 4096, 0, last=True
            )
        )
        answer = read_message(sock)
        assert answer is not None
        sock.settimeout(silence)
        try:
            after = sock.recv(1)
        except TimeoutError:
            after = b"(still open)"
        return answer.payload, after


def test_a_wrong_password_gets_error_18456_state_1_severity_14_and_the_connection_is_closed(server):
    answer, after = raw_login(server, "wrong")
    assert answer[0] == Token.ERROR
    number, state, severity = struct.unpack_from("<iBB", answer, 3)
    assert (number, state, severity) == (18456, 1, 14)
    assert "Login failed for user 'susdb_maint'.".encode("utf-16-le") in answer
    assert after == b""  # closed
    assert server.stats["login_failed"] == 1


def test_an_unknown_database_gets_error_4060_then_18456(server):
    answer, after = raw_login(server, "right", database="master2")
    first = struct.unpack_from("<i", answer, 3)[0]
    assert first == 4060 and b"master2" in answer.replace(b"\x00", b"") and after == b""


@pytest.mark.slow
def test_a_login_to_master_is_acknowledged_in_master(server):
    """Any login may open master (its guest user is enabled); the session starts there."""
    # A refused login is closed right after its answer: half a second of silence is an open one.
    answer, after = raw_login(server, "right", database="master", silence=0.5)
    assert bytes([Token.LOGINACK]) in answer and "master".encode("utf-16-le") in answer
    assert "'SUSDB'".encode("utf-16-le") not in answer and after == b"(still open)"
    assert server.stats["logins"] == 1 and server.stats["login_failed"] == 0


def test_a_wrong_password_to_master_is_refused_as_to_any_database(server):
    answer, after = raw_login(server, "wrong", database="master")
    assert struct.unpack_from("<i", answer, 3)[0] == 18456 and after == b""


@pytest.mark.slow
def test_a_good_login_is_acknowledged_and_the_session_stays_open(server):
    answer, after = raw_login(server, "right", silence=0.5)
    assert bytes([Token.LOGINACK]) in answer and answer[-13] == Token.DONE
    assert after == b"(still open)"
