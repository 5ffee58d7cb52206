"""uvicorn's HTTP protocol with a bounded request head, and the options every accessrl server runs with.

uvicorn limits neither the size of a request head nor the time a client may take to send
it (its keep-alive timeout only covers idle connections): a client could hold a
connection open forever with a head that never ends.  :func:`bounded_protocol` is
uvicorn's httptools protocol with both bounds; :func:`uvicorn_options` are the settings
``accessrl serve`` and ``accessrl studio`` pass to uvicorn.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from typing import Any

MAX_HEADER_BYTES = 16 * 1024
"""Largest request head (request line and headers) the bounded protocol reads."""
HEAD_TIMEOUT = 10.0
"""Seconds a client may take to send a request head."""
FIRST_PACKET_BODY = 16 * 1024
"""Slack over :data:`MAX_HEADER_BYTES` for bytes counted before the parser saw the end of the head."""
KEEP_ALIVE = 5
"""Seconds an idle kept-alive connection stays open."""


def bounded_protocol() -> type:
    """uvicorn's httptools protocol with a bounded request head: at most :data:`MAX_HEADER_BYTES`
    and :data:`HEAD_TIMEOUT` seconds per request head, then 431 or 408 and the connection closed."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                # A listening socket handed to worker processes (--workers) gives connections
                # without TCP_NODELAY under uvloop: each kept-alive reply then waited ~40 ms for
                # the client's delayed ACK (Nagle): 337 requests/s with 2 workers, 1,563 with it
                # (benchmarks/results/service_workers.md).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._refused = False
            self._start_head()

        def _start_head(self) -> None:
            self._in_head = True
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_too_slow)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._in_head:
                # Bytes of an incomplete head: up to the blank line that ends it when this chunk has
                # it (the body that follows in the same packets is the application's to limit).
                end = data.find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else end + 4
                if self._head_bytes > MAX_HEADER_BYTES + FIRST_PACKET_BODY:
                    self._refuse(b"431 Request Header Fields Too Large")
                    return
            super().data_received(data)

        def on_url(self, url: bytes) -> None:
            self._grow(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            if self._grow(len(name) + len(value) + 4):
                super().on_header(name, value)

        def _grow(self, n: int) -> bool:
            self._head_size = getattr(self, "_head_size", 0) + n
            if self._head_size > MAX_HEADER_BYTES and not self._refused:
                self._refuse(b"431 Request Header Fields Too Large")
            return not self._refused

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_size = 0
            self._head_timer.cancel()
            if not self._refused:
                super().on_headers_complete()

        def on_message_complete(self) -> None:
            if self._refused:
                return
            super().on_message_complete()
            self._start_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_timer.cancel()
            super().connection_lost(exc)

        def _head_too_slow(self) -> None:
            if self._in_head and self._head_bytes:
                self._refuse(b"408 Request Timeout")

        def _refuse(self, status: bytes) -> None:
            self._refused = True
            self._in_head = False
            self._head_timer.cancel()
            if not self.transport.is_closing():
                self.transport.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                self.transport.close()

    return BoundedHttpToolsProtocol


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` / ``uvicorn.run``: the bounded protocol, idle
    connections closed after :data:`KEEP_ALIVE` seconds, no access log."""
    return {"http": bounded_protocol(), "timeout_keep_alive": KEEP_ALIVE,
            "h11_max_incomplete_event_size": MAX_HEADER_BYTES, "access_log": False}


PARENT_ENV = "ACCESSRL_PARENT_PID"
"""Set by a process that starts an accessrl server as its child: the server exits when that parent is gone."""
GRACE = 10.0
"""Seconds an orphaned server has to stop by itself (SIGTERM to itself) before it exits hard."""


def watch_parent(parent: int | None = None, *, every: float = 0.5) -> threading.Thread | None:
    """Exit this process when its parent is gone (a parent killed with SIGKILL cannot stop it).

    ``parent``: the process id to outlive (default: :data:`PARENT_ENV`, else nothing is watched).
    A daemon thread polls the parent process id; once the process has been re-parented (or the
    parent id no longer exists) it sends itself SIGTERM — uvicorn then closes the database and
    exits — and exits hard after :data:`GRACE` seconds if that did not end it."""
    if parent is None:
        text = os.environ.get(PARENT_ENV, "")
        if not text.isdigit():
            return None
        parent = int(text)

    def alive() -> bool:
        if os.getppid() != parent:
            return False
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def loop() -> None:
        while alive():
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(GRACE)
        os._exit(1)

    thread = threading.Thread(target=loop, name="accessrl-parent-watch", daemon=True)
    thread.start()
    return thread


__all__ = ["GRACE", "HEAD_TIMEOUT", "KEEP_ALIVE", "MAX_HEADER_BYTES", "PARENT_ENV", "bounded_protocol",
           "uvicorn_options", "watch_parent"]
