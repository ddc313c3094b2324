"""SQL Server data types on the wire: reading parameter values, writing result columns.

[MS-TDS] 2.2.5.4 (data type definitions) and 2.2.5.5.1 (TYPE_INFO). Parameters arrive with their
own TYPE_INFO, so any type FreeTDS sends for the Python values pyodbc binds is read here: integers,
bit, float, decimal, the character types (including PLP ``(max)`` values), uniqueidentifier, the
date and time types and binary.

Result columns need a type before their first row. The simulated SUSDB runs on SQLite, which
keeps no SQL Server types (its schema stores uniqueidentifier and datetime as TEXT, bit as INTEGER,
see ``jobs.simulator.schema``), so a column's type is inferred from all of its values, the way a
SQL Server column of that content would be declared: integers are ``int`` (``bigint`` past 32
bits), reals ``float``, GUID-shaped text ``uniqueidentifier``, ``YYYY-MM-DD HH:MM:SS`` text
``datetime``, Python booleans ``bit``, other text ``nvarchar(4000)`` or ``nvarchar(max)``, bytes
``varbinary``. A column with no value at all is ``int``, as SQL Server types a bare NULL. A bit
column arrives as ``int``, because SQLite stores it as one.
"""

from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from jobs.simulator.tds.wire import ProtocolError, Reader

# SQL_Latin1_General_CP1_CI_AS: LCID 0x0409, case-insensitive flags, SQL sort order 52.
COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])
PLP_NULL = 0xFFFFFFFFFFFFFFFF
PLP_UNKNOWN_LENGTH = 0xFFFFFFFFFFFFFFFE
NVARCHAR_MAX_CHARACTERS = 4000

# Fixed-length types: (code, size).
INT1, BIT, INT2, INT4, DATETIM4, FLT4, MONEY, DATETIME, FLT8, MONEY4, INT8 = (
    0x30,
    0x32,
    0x34,
    0x38,
    0x3A,
    0x3B,
    0x3C,
    0x3D,
    0x3E,
    0x7A,
    0x7F,
)
NULLTYPE = 0x1F
FIXED_SIZES = {
    NULLTYPE: 0,
    INT1: 1,
    BIT: 1,
    INT2: 2,
    INT4: 4,
    DATETIM4: 4,
    FLT4: 4,
    MONEY: 8,
    DATETIME: 8,
    FLT8: 8,
    MONEY4: 4,
    INT8: 8,
}
# Variable-length types.
GUID, INTN, DECIMALN, NUMERICN, BITN, FLTN, MONEYN, DATETIMN = (
    0x24,
    0x26,
    0x6A,
    0x6C,
    0x68,
    0x6D,
    0x6E,
    0x6F,
)
DATEN, TIMEN, DATETIME2N, DATETIMEOFFSETN = 0x28, 0x29, 0x2A, 0x2B
BIGVARBINARY, BIGVARCHAR, BIGBINARY, BIGCHAR, NVARCHAR, NCHAR = 0xA5, 0xA7, 0xAD, 0xAF, 0xE7, 0xEF
TEXT, IMAGE, NTEXT = 0x23, 0x22, 0x63
CHARACTER_TYPES = {BIGVARCHAR, BIGCHAR, NVARCHAR, NCHAR}
UNICODE_TYPES = {NVARCHAR, NCHAR, NTEXT}
BYTE_LENGTH_TYPES = {GUID, INTN, BITN, FLTN, MONEYN, DATETIMN}

EPOCH_1900 = datetime(1900, 1, 1)
DAY_ONE = date(1, 1, 1)


@dataclass(frozen=True)
class TypeInfo:
    code: int
    size: int = 0  # maximum length in bytes (0xFFFF: a PLP "(max)" type)
    precision: int = 0
    scale: int = 0

    @property
    def plp(self) -> bool:
        return self.code in (BIGVARBINARY, BIGVARCHAR, NVARCHAR) and self.size == 0xFFFF


def read_type_info(reader: Reader) -> TypeInfo:
    code = reader.u8()
    if code in FIXED_SIZES:
        return TypeInfo(code, FIXED_SIZES[code])
    if code in BYTE_LENGTH_TYPES:
        return TypeInfo(code, reader.u8())
    if code in (DECIMALN, NUMERICN):
        size, precision, scale = reader.u8(), reader.u8(), reader.u8()
        return TypeInfo(code, size, precision, scale)
    if code == DATEN:
        return TypeInfo(code, 3)
    if code in (TIMEN, DATETIME2N, DATETIMEOFFSETN):
        return TypeInfo(code, 0, scale=reader.u8())
    if code in CHARACTER_TYPES:
        size = reader.u16()
        reader.take(len(COLLATION))
        return TypeInfo(code, size)
    if code in (BIGVARBINARY, BIGBINARY):
        return TypeInfo(code, reader.u16())
    if code in (TEXT, NTEXT, IMAGE):
        size = reader.u32()
        if code != IMAGE:
            reader.take(len(COLLATION))
        return TypeInfo(code, size)
    raise ProtocolError(f"parameter data type 0x{code:02X} is not supported by the simulator")


def _read_plp(reader: Reader) -> bytes | None:
    total = reader.u64()
    if total == PLP_NULL:
        return None
    chunks: list[bytes] = []
    while True:
        size = reader.u32()
        if size == 0:
            return b"".join(chunks)
        chunks.append(reader.take(size))


def _time_of(ticks: int, scale: int) -> timedelta:
    return timedelta(microseconds=ticks * 10**6 // 10**scale)


def _decode(info: TypeInfo, raw: bytes) -> Any:
    code = info.code
    if code in (INT1, INT2, INT4, INT8) or (code == INTN):
        return int.from_bytes(raw, "little", signed=code != INT1 and len(raw) > 1)
    if code in (BIT, BITN):
        return bool(raw[0])
    if code in (FLT4, FLT8, FLTN):
        return struct.unpack("<f" if len(raw) == 4 else "<d", raw)[0]
    if code in (MONEY, MONEY4, MONEYN):
        value = (
            int.from_bytes(raw, "little", signed=True)
            if len(raw) == 4
            else (struct.unpack("<i", raw[:4])[0] << 32) | struct.unpack("<I", raw[4:])[0]
        )
        return Decimal(value) / 10000
    if code in (DECIMALN, NUMERICN):
        magnitude = int.from_bytes(raw[1:], "little")
        value = Decimal(magnitude if raw[0] else -magnitude).scaleb(-info.scale)
        return int(value) if info.scale == 0 else value
    if code == GUID:
        return uuid.UUID(bytes_le=raw)
    if code in (DATETIME, DATETIMN, DATETIM4):
        if len(raw) == 4:
            days, minutes = struct.unpack("<HH", raw)
            return EPOCH_1900 + timedelta(days=days, minutes=minutes)
        days, ticks = struct.unpack("<iI", raw)
        return EPOCH_1900 + timedelta(days=days, milliseconds=round(ticks * 10 / 3))
    if code == DATEN:
        return DAY_ONE + timedelta(days=int.from_bytes(raw, "little"))
    if code == TIMEN:
        moment = datetime.min + _time_of(int.from_bytes(raw, "little"), info.scale)
        return time(moment.hour, moment.minute, moment.second, moment.microsecond)
    if code in (DATETIME2N, DATETIMEOFFSETN):
        time_size = len(raw) - 3 - (2 if code == DATETIMEOFFSETN else 0)
        ticks = int.from_bytes(raw[:time_size], "little")
        days = int.from_bytes(raw[time_size : time_size + 3], "little")
        # DATETIMEOFFSET is stored in UTC; the simulator keeps UTC datetimes without an offset.
        return (
            datetime.combine(DAY_ONE, time()) + timedelta(days=days) + _time_of(ticks, info.scale)
        )
    if code in UNICODE_TYPES:
        return raw.decode("utf-16-le")
    if code in (BIGVARCHAR, BIGCHAR, TEXT):
        return raw.decode("cp1252", errors="replace")
    return bytes(raw)


def read_value(reader: Reader, info: TypeInfo) -> Any:
    """Read one parameter value of the given type; None for NULL."""
    code = info.code
    if info.plp:
        raw = _read_plp(reader)
        return None if raw is None else _decode(info, raw)
    if code in FIXED_SIZES:
        return None if code == NULLTYPE else _decode(info, reader.take(info.size))
    if code in (TEXT, NTEXT, IMAGE):
        # As a parameter, a text value has no text pointer: a four-byte length, then the bytes.
        size = reader.u32()
        return None if size == 0xFFFFFFFF else _decode(info, reader.take(size))
    if code in CHARACTER_TYPES or code in (BIGVARBINARY, BIGBINARY):
        size = reader.u16()
        return None if size == 0xFFFF else _decode(info, reader.take(size))
    size = reader.u8()
    return None if size == 0 else _decode(info, reader.take(size))


# -- result columns -----------------------------------------------------------------------------
_DATETIME_TEXT = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,6})?$")
_GUID_TEXT = re.compile(r"^[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")
INT32 = range(-(2**31), 2**31)


@dataclass(frozen=True)
class ColumnType:
    """How one result column is declared and how its values are written."""

    name: str  # the SQL Server type, for errors and tests
    type_info: bytes

    def encode(self, value: Any) -> bytes:
        encoded: bytes = _ENCODERS[self.name](value)
        return encoded


def _length_prefixed(body: bytes | None) -> bytes:
    return b"\x00" if body is None else bytes([len(body)]) + body


def _encode_int(size: int) -> Any:
    return lambda value: _length_prefixed(
        None if value is None else int(value).to_bytes(size, "little", signed=True)
    )


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _encode_datetime(value: Any) -> bytes:
    if value is None:
        return b"\x00"
    moment = _as_datetime(value)
    delta = moment - EPOCH_1900
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    ticks = round((moment - midnight).total_seconds() * 300)
    return _length_prefixed(struct.pack("<iI", delta.days, ticks))


def _encode_nvarchar(value: Any) -> bytes:
    if value is None:
        return b"\xff\xff"
    body = str(value).encode("utf-16-le")
    return struct.pack("<H", len(body)) + body


def _plp(body: bytes | None) -> bytes:
    if body is None:
        return struct.pack("<Q", PLP_NULL)
    chunk = struct.pack("<I", len(body)) + body if body else b""
    return struct.pack("<Q", len(body)) + chunk + b"\x00\x00\x00\x00"


def _encode_guid(value: Any) -> bytes:
    if value is None:
        return b"\x00"
    guid = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    return _length_prefixed(guid.bytes_le)


_ENCODERS: dict[str, Any] = {
    "int": _encode_int(4),
    "bigint": _encode_int(8),
    "bit": lambda value: _length_prefixed(None if value is None else bytes([bool(value)])),
    "float": lambda value: _length_prefixed(
        None if value is None else struct.pack("<d", float(value))
    ),
    "datetime": _encode_datetime,
    "uniqueidentifier": _encode_guid,
    "nvarchar(4000)": _encode_nvarchar,
    "nvarchar(max)": lambda value: _plp(None if value is None else str(value).encode("utf-16-le")),
    "varbinary(max)": lambda value: _plp(None if value is None else bytes(value)),
}
COLUMN_TYPES = {
    "int": ColumnType("int", bytes([INTN, 4])),
    "bigint": ColumnType("bigint", bytes([INTN, 8])),
    "bit": ColumnType("bit", bytes([BITN, 1])),
    "float": ColumnType("float", bytes([FLTN, 8])),
    "datetime": ColumnType("datetime", bytes([DATETIMN, 8])),
    "uniqueidentifier": ColumnType("uniqueidentifier", bytes([GUID, 16])),
    "nvarchar(4000)": ColumnType(
        "nvarchar(4000)", bytes([NVARCHAR]) + struct.pack("<H", 8000) + COLLATION
    ),
    "nvarchar(max)": ColumnType("nvarchar(max)", bytes([NVARCHAR, 0xFF, 0xFF]) + COLLATION),
    "varbinary(max)": ColumnType("varbinary(max)", bytes([BIGVARBINARY, 0xFF, 0xFF])),
}


def infer_column_type(values: list[Any]) -> ColumnType:
    """The SQL Server type a column with these values would have (see the module docstring)."""
    present = [value for value in values if value is not None]
    if not present:
        return COLUMN_TYPES["int"]
    if all(isinstance(value, bool) for value in present):
        return COLUMN_TYPES["bit"]
    if all(isinstance(value, int) for value in present):
        return COLUMN_TYPES["int" if all(value in INT32 for value in present) else "bigint"]
    if all(isinstance(value, int | float | Decimal) for value in present):
        return COLUMN_TYPES["float"]
    if all(isinstance(value, bytes) for value in present):
        return COLUMN_TYPES["varbinary(max)"]
    if all(isinstance(value, uuid.UUID) or _GUID_TEXT.match(str(value)) for value in present):
        return COLUMN_TYPES["uniqueidentifier"]
    if all(isinstance(value, datetime) or _DATETIME_TEXT.match(str(value)) for value in present):
        return COLUMN_TYPES["datetime"]
    if any(len(str(value)) > NVARCHAR_MAX_CHARACTERS for value in present):
        return COLUMN_TYPES["nvarchar(max)"]
    return COLUMN_TYPES["nvarchar(4000)"]
