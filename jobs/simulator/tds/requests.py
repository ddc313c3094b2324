"""The client's side of TDS: PRELOGIN, LOGIN7, SQL batches and RPC requests, parsed.

Layouts from [MS-TDS] 2.2.6 (message types). Only TDS 7.2 and later are spoken (SQL Server 2005
on), so every SQL batch and RPC request starts with ALL_HEADERS (2.2.5.3).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from jobs.simulator.tds.datatypes import read_type_info, read_value
from jobs.simulator.tds.wire import ProtocolError, Reader

# Well-known procedure ids an RPC request may name instead of a procedure ([MS-TDS] 2.2.6.6).
PROCEDURE_IDS = {
    1: "sp_cursor",
    2: "sp_cursoropen",
    3: "sp_cursorprepare",
    4: "sp_cursorexecute",
    5: "sp_cursorprepexec",
    6: "sp_cursorunprepare",
    7: "sp_cursorfetch",
    8: "sp_cursoroption",
    9: "sp_cursorclose",
    10: "sp_executesql",
    11: "sp_prepare",
    12: "sp_execute",
    13: "sp_prepexec",
    14: "sp_prepexecrpc",
    15: "sp_unprepare",
}
TDS72 = 0x72090002
PARAMETER_OUTPUT = 0x01


@dataclass
class Login:
    tds_version: int
    packet_size: int
    host: str
    user: str
    password: str
    app: str
    server: str
    library: str
    language: str
    database: str
    integrated_security: bool


@dataclass
class Parameter:
    name: str
    value: Any
    output: bool = False


@dataclass
class RpcCall:
    procedure: str
    parameters: list[Parameter] = field(default_factory=list)


def parse_prelogin(payload: bytes) -> dict[int, bytes]:
    """The option table: option number to its bytes (the table's offsets are big-endian)."""
    options: dict[int, bytes] = {}
    position = 0
    while position < len(payload) and payload[position] != 0xFF:
        if position + 5 > len(payload):
            raise ProtocolError("PRELOGIN option table ends early")
        option, offset, length = struct.unpack_from(">BHH", payload, position)
        options[option] = payload[offset : offset + length]
        position += 5
    return options


def _unscramble(data: bytes) -> bytes:
    """LOGIN7 passwords: each byte's nibbles swapped, then XOR 0xA5 ([MS-TDS] 2.2.6.4); undone."""
    return bytes((((byte ^ 0xA5) << 4) & 0xF0) | ((byte ^ 0xA5) >> 4) for byte in data)


def parse_login7(payload: bytes) -> Login:
    reader = Reader(payload)
    _length, tds_version, packet_size = reader.unpack("III")
    reader.take(12)  # client program version, process id, connection id
    _flags1, flags2, _type_flags, _flags3 = reader.unpack("BBBB")
    reader.take(8)  # client time zone and LCID

    def field_at() -> tuple[int, int]:
        offset, characters = reader.unpack("HH")
        return offset, characters

    fields = {
        name: field_at()
        for name in ("host", "user", "password", "app", "server", "extension", "library")
    }
    fields["language"] = field_at()
    fields["database"] = field_at()

    def text(name: str) -> str:
        offset, characters = fields[name]
        raw = payload[offset : offset + characters * 2]
        if name == "password":
            raw = _unscramble(raw)
        return raw.decode("utf-16-le")

    return Login(
        tds_version=tds_version,
        packet_size=packet_size,
        host=text("host"),
        user=text("user"),
        password=text("password"),
        app=text("app"),
        server=text("server"),
        library=text("library"),
        language=text("language"),
        database=text("database"),
        integrated_security=bool(flags2 & 0x80),
    )


def _skip_all_headers(reader: Reader) -> None:
    total = reader.u32()
    if total < 4:
        raise ProtocolError(f"ALL_HEADERS length {total} is too short")
    reader.take(total - 4)


def parse_sql_batch(payload: bytes) -> str:
    reader = Reader(payload)
    _skip_all_headers(reader)
    return payload[reader.position :].decode("utf-16-le")


def _parse_call(reader: Reader) -> RpcCall:
    length = reader.u16()
    procedure = PROCEDURE_IDS.get(reader.u16(), "") if length == 0xFFFF else reader.ucs2(length)
    reader.u16()  # option flags (WithRecomp, NoMetaData, ReuseMetaData)
    call = RpcCall(procedure)
    while reader.remaining and reader.data[reader.position] not in (0x80, 0xFE, 0xFF):
        name = reader.b_varchar()
        status = reader.u8()
        info = read_type_info(reader)
        call.parameters.append(
            Parameter(name, read_value(reader, info), bool(status & PARAMETER_OUTPUT))
        )
    return call


def parse_rpc(payload: bytes) -> list[RpcCall]:
    """One RPC request: one or more calls, separated by a batch flag byte."""
    reader = Reader(payload)
    _skip_all_headers(reader)
    calls = [_parse_call(reader)]
    while reader.remaining:
        reader.u8()  # the batch separator
        if reader.remaining:
            calls.append(_parse_call(reader))
    return calls
