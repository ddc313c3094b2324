"""The server's side of TDS: the pre-login answer and the tokens of a response.

Layouts from [MS-TDS] 2.2.6.5 (PRELOGIN) and 2.2.7 (tokens), for TDS 7.2 and later (row counts
are eight bytes, messages carry a four-byte line number).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from typing import Any

from jobs.simulator.tds.datatypes import COLLATION, ColumnType


class Token(enum.IntEnum):
    RETURNSTATUS = 0x79
    COLMETADATA = 0x81
    ERROR = 0xAA
    INFO = 0xAB
    RETURNVALUE = 0xAC
    LOGINACK = 0xAD
    ROW = 0xD1
    ENVCHANGE = 0xE3
    DONE = 0xFD
    DONEPROC = 0xFE
    DONEINPROC = 0xFF


class Done(enum.IntFlag):
    FINAL = 0x00
    MORE = 0x01
    ERROR = 0x02
    COUNT = 0x10
    ATTENTION = 0x20


class EnvChange(enum.IntEnum):
    DATABASE = 1
    LANGUAGE = 2
    PACKET_SIZE = 4
    COLLATION = 7


# Pre-login options ([MS-TDS] 2.2.6.5).
PRELOGIN_VERSION, PRELOGIN_ENCRYPTION, PRELOGIN_INSTANCE, PRELOGIN_THREADID, PRELOGIN_MARS = (
    0,
    1,
    2,
    3,
    4,
)
PRELOGIN_TERMINATOR = 0xFF
ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0x00, 0x01, 0x02, 0x03
TDS74 = 0x74000004


def b_varchar(text: str) -> bytes:
    encoded = text.encode("utf-16-le")
    return bytes([len(encoded) // 2]) + encoded


def us_varchar(text: str) -> bytes:
    encoded = text.encode("utf-16-le")
    return struct.pack("<H", len(encoded) // 2) + encoded


def _with_length(token: int, body: bytes) -> bytes:
    return struct.pack("<BH", token, len(body)) + body


def prelogin_encryption(payload: bytes) -> int:
    """The ENCRYPTION option of a client's PRELOGIN ([MS-TDS] 2.2.6.5); NOT_SUP when absent."""
    position = 0
    while position + 5 <= len(payload) and payload[position] != PRELOGIN_TERMINATOR:
        option, offset, length = struct.unpack_from(">BHH", payload, position)
        if option == PRELOGIN_ENCRYPTION and length >= 1 and offset < len(payload):
            return int(payload[offset])
        position += 5
    return ENCRYPT_NOT_SUP


def prelogin_answer(
    product_version: tuple[int, int, int], encryption: int = ENCRYPT_NOT_SUP
) -> bytes:
    """The server's PRELOGIN: its version, and what it says of encryption (ENCRYPT_NOT_SUP: no
    TLS, not even for the login)."""
    major, minor, build = product_version
    options = [
        (PRELOGIN_VERSION, struct.pack(">BBHH", major, minor, build, 0)),
        (PRELOGIN_ENCRYPTION, bytes([encryption])),
        (PRELOGIN_INSTANCE, b"\x00"),
        (PRELOGIN_THREADID, b""),
        (PRELOGIN_MARS, b"\x00"),
    ]
    offset = len(options) * 5 + 1
    table, data = bytearray(), bytearray()
    for option, value in options:
        table += struct.pack(">BHH", option, offset + len(data), len(value))
        data += value
    return bytes(table + bytes([PRELOGIN_TERMINATOR]) + data)


def done(status: int, rowcount: int = 0, token: int = Token.DONE, command: int = 0) -> bytes:
    return struct.pack("<BHHQ", token, status, command, max(rowcount, 0))


def message(
    number: int,
    text: str,
    *,
    severity: int,
    state: int = 1,
    server: str = "",
    procedure: str = "",
    line: int = 1,
) -> bytes:
    """An ERROR token (severity above 10) or an INFO token (10 and below, PRINT is 0)."""
    token = Token.ERROR if severity > 10 else Token.INFO
    body = (
        struct.pack("<iBB", number, state, severity)
        + us_varchar(text)
        + b_varchar(server)
        + b_varchar(procedure)
        + struct.pack("<i", line)
    )
    return _with_length(token, body)


def env_text(kind: int, new: str, old: str) -> bytes:
    return _with_length(Token.ENVCHANGE, bytes([kind]) + b_varchar(new) + b_varchar(old))


def env_collation() -> bytes:
    body = bytes([EnvChange.COLLATION, len(COLLATION)]) + COLLATION + b"\x00"
    return _with_length(Token.ENVCHANGE, body)


def loginack(
    tds_version: int, product_version: tuple[int, int, int], program: str = "Microsoft SQL Server"
) -> bytes:
    major, minor, build = product_version
    body = (
        b"\x01"  # interface: SQL_TSQL
        + struct.pack(">I", tds_version)
        + b_varchar(program)
        + struct.pack(">BBH", major, minor, build)
    )
    return _with_length(Token.LOGINACK, body)


def colmetadata(names: Sequence[str], types: Sequence[ColumnType]) -> bytes:
    out = bytearray(struct.pack("<BH", Token.COLMETADATA, len(names)))
    for name, column in zip(names, types, strict=True):
        out += struct.pack("<IH", 0, 0x0001)  # user type, flags: nullable
        out += column.type_info
        out += b_varchar(name)
    return bytes(out)


def row(types: Sequence[ColumnType], values: Sequence[Any]) -> bytes:
    out = bytearray([Token.ROW])
    for column, value in zip(types, values, strict=True):
        out += column.encode(value)
    return bytes(out)


def return_status(value: int) -> bytes:
    return struct.pack("<Bi", Token.RETURNSTATUS, value)


def return_value(ordinal: int, name: str, column: ColumnType, value: Any) -> bytes:
    """An output parameter's value (sp_prepare's and sp_prepexec's @handle)."""
    return (
        struct.pack("<BH", Token.RETURNVALUE, ordinal)
        + b_varchar(name)
        + b"\x01"  # status: an output parameter
        + struct.pack("<IH", 0, 0x0001)
        + column.type_info
        + column.encode(value)
    )
