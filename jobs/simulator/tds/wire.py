"""TDS framing: packets on a socket, and a reader for the little-endian fields inside them.

[MS-TDS] 2.2.3.1: every message travels as packets of at most the negotiated size, each with an
eight-byte header (type, status, length big-endian, SPID, packet number, window). The last packet
of a message has the EOM bit in its status. Everything inside a message is little-endian, except
the pre-login option table and the TDS version fields, which the spec gives big-endian.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Protocol

HEADER = struct.Struct(">BBHHBB")
STATUS_EOM = 0x01
DEFAULT_PACKET_SIZE = 4096
MAX_PACKET_SIZE = 32767  # the largest a LOGIN7 may ask for ([MS-TDS] 2.2.6.4, PacketSize)


class PacketType(enum.IntEnum):
    SQL_BATCH = 1
    RPC = 3
    REPLY = 4  # "tabular result": every server response
    ATTENTION = 6
    TRANSACTION_MANAGER = 14
    LOGIN7 = 16
    SSPI = 17
    PRELOGIN = 18


class ProtocolError(Exception):
    """The client sent something this server cannot read; the session ends."""


@dataclass
class Message:
    type: int
    status: int
    payload: bytes


class Stream(Protocol):
    """What a session reads and writes TDS through: a socket, or TLS over one (tds/tls.py)."""

    def recv(self, size: int) -> bytes: ...

    def sendall(self, data: bytes) -> None: ...

    def shutdown(self, how: int) -> None: ...

    def close(self) -> None: ...


def _receive_exactly(sock: Stream, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_packet(sock: Stream) -> tuple[int, int, bytes] | None:
    """Return one packet's (type, status, body), or None when the client closed the socket."""
    header = _receive_exactly(sock, HEADER.size)
    if header is None:
        return None
    kind, status, length, _spid, _number, _window = HEADER.unpack(header)
    if length < HEADER.size:
        raise ProtocolError(f"packet length {length} is shorter than its header")
    body = _receive_exactly(sock, length - HEADER.size)
    if body is None:
        return None
    return kind, status, body


def read_message(sock: Stream) -> Message | None:
    """Read packets up to the one marked end-of-message; None when the client closed the socket.

    An attention packet is a message of its own even when it arrives between two packets of a
    request ([MS-TDS] 2.2.1.7), so it is returned at once."""
    first = read_packet(sock)
    if first is None:
        return None
    kind, status, body = first
    parts = [body]
    while not status & STATUS_EOM and kind != PacketType.ATTENTION:
        packet = read_packet(sock)
        if packet is None:
            return None
        if packet[0] == PacketType.ATTENTION:
            return Message(PacketType.ATTENTION, packet[1], b"")
        _, status, body = packet
        parts.append(body)
    return Message(kind, status, b"".join(parts))


def packets(kind: int, payload: bytes, packet_size: int, spid: int, *, last: bool) -> bytes:
    """Split ``payload`` into packets; the final one carries EOM when ``last``."""
    room = packet_size - HEADER.size
    out = bytearray()
    chunks = [payload[start : start + room] for start in range(0, len(payload), room)] or [b""]
    for index, chunk in enumerate(chunks):
        status = STATUS_EOM if last and index == len(chunks) - 1 else 0
        out += HEADER.pack(kind, status, len(chunk) + HEADER.size, spid, (index + 1) % 256, 0)
        out += chunk
    return bytes(out)


class Reader:
    """Reads the fields of one message body in order."""

    def __init__(self, data: bytes, position: int = 0) -> None:
        self.data = data
        self.position = position

    @property
    def remaining(self) -> int:
        return len(self.data) - self.position

    def take(self, size: int) -> bytes:
        if size < 0 or self.position + size > len(self.data):
            raise ProtocolError(
                f"message ends early: {size} bytes wanted at offset {self.position}"
            )
        chunk = self.data[self.position : self.position + size]
        self.position += size
        return chunk

    def unpack(self, layout: str) -> tuple[int, ...]:
        fmt = struct.Struct("<" + layout)
        return fmt.unpack(self.take(fmt.size))

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(self.unpack("H")[0])

    def u32(self) -> int:
        return int(self.unpack("I")[0])

    def i32(self) -> int:
        return int(self.unpack("i")[0])

    def u64(self) -> int:
        return int(self.unpack("Q")[0])

    def ucs2(self, characters: int) -> str:
        return self.take(characters * 2).decode("utf-16-le")

    def b_varchar(self) -> str:
        """A string preceded by its length in characters, one byte."""
        return self.ucs2(self.u8())

    def us_varchar(self) -> str:
        """A string preceded by its length in characters, two bytes."""
        return self.ucs2(self.u16())
