"""A TCP proxy on 127.0.0.1 between the driver and the served simulator, that breaks the link the
ways real networks do: a reset (the connection is closed with RST, as a restarted firewall or a
killed server does) and silence (a firewall or VPN that dropped its state: bytes go nowhere, no
reset, no reply). Both can be triggered by what the client sends: the statement's ``-- name:``
line, which every statement the project sends carries (in UTF-16LE, as TDS sends SQL text).
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Link:
    client: socket.socket
    server: socket.socket
    silent: bool = False
    closed: bool = False
    reset_after: int | None = None  # reset once this many more reply bytes have gone through


@dataclass
class Trigger:
    """On the ``count``-th request whose text names ``statement``: ``action`` ("reset",
    "silence", or "reset_mid_reply": a reset after ``reply_bytes`` of the answer went through);
    ``forwarded`` says whether that request still reaches the server."""

    statement: str
    action: str
    count: int = 1
    forwarded: bool = True
    reply_bytes: int = 8192
    seen: int = 0

    @property
    def marker(self) -> bytes:
        return f"-- name: {self.statement}".encode("utf-16-le")


@dataclass
class Proxy:
    upstream: tuple[str, int]
    triggers: list[Trigger] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)  # what the triggers did, in order

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._all_silent = False
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    # -- controls -------------------------------------------------------------------------------
    def reset_all(self) -> None:
        with self._lock:
            for link in self._links:
                _reset(link)

    def silence_all(self) -> None:
        """Every link, and every link opened from now on, goes silent."""
        with self._lock:
            self._all_silent = True
            for link in self._links:
                link.silent = True

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.reset_all()

    # -- forwarding -----------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            for end in (client, server):
                # Forward each write at once: with Nagle's algorithm a driver that writes a
                # request in two pieces (Driver 18) waits for a delayed ACK on every request.
                end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(client, server)
            with self._lock:
                link.silent = self._all_silent
                self._links.append(link)
            threading.Thread(target=self._pump, args=(link,), daemon=True).start()

    def _pump(self, link: _Link) -> None:
        ends = {link.client: link.server, link.server: link.client}
        while not link.closed and not self._stopped.is_set():
            try:
                readable, _, _ = select.select(list(ends), [], [], 0.2)
            except (OSError, ValueError):
                return
            if link.silent:
                continue  # nothing is read, nothing is sent: the peer's kernel buffers fill
            for source in readable:
                try:
                    data = source.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    with self._lock:
                        _reset(link)
                    return
                action = self._trigger(data) if source is link.client else None
                if action is not None and not action[1]:
                    self._act(link, action[0], action[2])
                    return
                if source is link.server and link.reset_after is not None:
                    data, cut = data[: link.reset_after], len(data) >= link.reset_after
                    link.reset_after -= len(data)
                    if cut:
                        with contextlib.suppress(OSError):
                            link.client.sendall(data)
                        with self._lock:
                            _reset(link)
                        return
                try:
                    ends[source].sendall(data)
                except OSError:
                    with self._lock:
                        _reset(link)
                    return
                if action is not None:
                    self._act(link, action[0], action[2])
                    if link.closed:
                        return

    def _trigger(self, data: bytes) -> tuple[str, bool, int] | None:
        with self._lock:
            for trigger in self.triggers:
                if trigger.marker in data:
                    trigger.seen += 1
                    if trigger.seen == trigger.count:
                        self.fired.append(f"{trigger.action} on {trigger.statement}")
                        return trigger.action, trigger.forwarded, trigger.reply_bytes
        return None

    def _act(self, link: _Link, action: str, reply_bytes: int = 0) -> None:
        with self._lock:
            if action == "reset":
                _reset(link)
            elif action == "reset_mid_reply":
                link.reset_after = reply_bytes
            elif action == "silence":
                self._all_silent = True  # the route is gone: new connections go nowhere too
                for each in self._links:
                    each.silent = True
            else:
                raise ValueError(action)


def _reset(link: _Link) -> None:
    """Close both ends with RST (SO_LINGER 0), as a reset connection reaches each side."""
    if link.closed:
        return
    link.closed = True
    for end in (link.client, link.server):
        with contextlib.suppress(OSError):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            end.close()
