"""TLS for the served simulator, the two ways SQL Server offers it ([MS-TDS] 2.2.6.5, 3.2.5.1,
and "TDS 8.0" in Microsoft's SQL Server documentation).

* **TDS 7.x**: the client's PRELOGIN says whether it wants encryption (``ENCRYPT_ON``, or
  ``ENCRYPT_OFF``: the login only); the server answers ``ENCRYPT_ON`` or ``ENCRYPT_OFF``. The TLS
  handshake then travels inside TDS PRELOGIN packets. Afterwards either everything is TLS records
  on the socket (``ENCRYPT_ON``), or only the LOGIN7 message is and the session goes on in clear
  (``ENCRYPT_OFF``). TLS 1.2 at most, as SQL Server 2019 and earlier negotiate it there.
* **TDS 8** (``Encrypt=strict``): TLS first, straight on the socket, with ALPN ``tds/8.0``; every
  TDS message, PRELOGIN included, travels inside it.

``TlsSocket`` gives the session what it uses of a socket (``recv``, ``sendall``, ``shutdown``,
``close``) over an ``ssl.SSLObject``: the session's reader thread and its senders share it, so
every TLS operation takes one lock, and a read waits for bytes outside it.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

from jobs.simulator.tds.wire import PacketType, ProtocolError, packets, read_message

TDS8_ALPN = "tds/8.0"
TLS_HANDSHAKE = 0x16  # the first byte of a TLS record carrying a handshake: a TDS 8 client


class TlsSocket:
    """TDS over TLS records, on a socket whose handshake is done."""

    def __init__(
        self,
        sock: socket.socket,
        tls: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
    ) -> None:
        self.sock = sock
        self._tls, self._incoming, self._outgoing = tls, incoming, outgoing
        self._lock = threading.Lock()

    def recv(self, size: int) -> bytes:
        while True:
            with self._lock:
                try:
                    return self._tls.read(size)
                except ssl.SSLWantReadError:
                    pass
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    return b""
            data = self.sock.recv(65536)
            if not data:
                return b""
            with self._lock:
                self._incoming.write(data)

    def sendall(self, data: bytes) -> None:
        with self._lock:
            self._tls.write(data)
            pending = self._outgoing.read()
        self.sock.sendall(pending)

    def shutdown(self, how: int) -> None:
        self.sock.shutdown(how)

    def close(self) -> None:
        self.sock.close()


def server_context(certificate: Path, key: Path, *, tds8: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    if tds8:
        context.set_alpn_protocols([TDS8_ALPN])
    else:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def is_tds8_client(sock: socket.socket) -> bool:
    """Whether the client opens with a TLS handshake (TDS 8) rather than a TDS PRELOGIN."""
    first = sock.recv(1, socket.MSG_PEEK)
    return bool(first) and first[0] == TLS_HANDSHAKE


def handshake_tds8(sock: socket.socket, context: ssl.SSLContext) -> TlsSocket:
    """TLS straight on the socket, before anything of TDS."""
    return _handshake(sock, context, sock.sendall, lambda: sock.recv(65536))


def handshake_in_prelogin(sock: socket.socket, context: ssl.SSLContext, spid: int) -> TlsSocket:
    """TDS 7.x: the handshake's records inside PRELOGIN packets, both ways."""

    def send(records: bytes) -> None:
        sock.sendall(packets(PacketType.PRELOGIN, records, 4096, spid, last=True))

    def receive() -> bytes:
        message = read_message(sock)
        if message is not None and message.type != PacketType.PRELOGIN:
            raise ProtocolError(f"expected the TLS handshake, got packet type {message.type}")
        return message.payload if message is not None else b""

    return _handshake(sock, context, send, receive)


def _handshake(
    sock: socket.socket,
    context: ssl.SSLContext,
    send: Callable[[bytes], None],
    receive: Callable[[], bytes],
) -> TlsSocket:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=True)
    while True:
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        else:
            break
        pending = outgoing.read()
        if pending:
            send(pending)
        data = receive()
        if not data:
            raise ProtocolError("the client closed the socket during the TLS handshake")
        incoming.write(data)
    pending = outgoing.read()
    if pending:
        send(pending)
    return TlsSocket(sock, tls, incoming, outgoing)
