"""The guards of every accessrl HTTP server, in one ASGI middleware.

A server is built with :func:`guarded_app` (a FastAPI application whose outermost
middleware is :class:`Guard`), so every route it has or will have is guarded.  For each
request, in this order, with one clear JSON line and the connection closed on a refusal:

1. **one of each header** — two ``Host``, ``Origin``, ``Authorization``, ``Content-Type``,
   ``Content-Length``, ``Sec-Fetch-Site`` or ``Idempotency-Key`` headers are refused (400):
   a check that reads the first could be fooled by the second;
2. **a token before anything is read** — when the server has tokens, a path that needs one
   (``token_paths``) without a valid ``Authorization: Bearer`` is 401 before its body;
3. **no token: the Host allow-list** — a server without tokens (loopback only) answers only
   requests whose ``Host`` names it (the served address or a loopback name; 421
   otherwise), which defeats DNS rebinding: a web page that makes its own name point at
   127.0.0.1 still sends its own name as ``Host``;
4. **no token: no state change from a web page** — a request that is not GET, HEAD or
   OPTIONS must not come from a foreign ``Origin`` (403) or ``Sec-Fetch-Site: cross-site``
   (403), and must be ``Content-Type: application/json`` (415; a cross-site form or a
   ``text/plain`` fetch cannot send it without a CORS preflight, which is never answered);
5. **the body** — read here, at most ``max_body`` bytes (declared or streamed: 413) within
   ``body_timeout`` seconds (408), then handed to the application;
6. **the request time limit** — a request not answered within ``request_timeout`` seconds
   is answered 503 and its work cancelled (off-loop work in a
   :class:`~accessrl.web.compute.ComputePool` is killed);
7. **failures in one line** — :class:`~accessrl.errors.UnavailableError` (the database is
   away or full) and :class:`~accessrl.web.compute.ComputeLimit` are 503 with
   ``Retry-After``; any other exception is 500 with its type, and one log line, never a
   traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accessrl.errors import UnavailableError
from accessrl.web.compute import ComputeLimit

log = logging.getLogger("accessrl.web")

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON = "application/json"
ONE_OF_EACH = (b"host", b"origin", b"authorization", b"content-type", b"content-length", b"sec-fetch-site",
               b"idempotency-key", b"transfer-encoding")
"""Headers a request may carry at most once."""


def detail_json(message: str) -> str:
    """The decision service's error body: ``{"detail": message}``."""
    from accessrl.storage.records import json_dumps

    return json_dumps({"detail": message})


@dataclass(frozen=True)
class GuardConfig:
    """The limits and rules of one server (see the module docstring for what each does)."""

    hosts: tuple[str, ...] = LOOPBACK_NAMES
    """Host names (without port) a server without tokens answers to."""
    max_body: int = 1024 * 1024
    """Largest request body in bytes."""
    body_timeout: float = 10.0
    """Seconds a client may take to send a request body."""
    request_timeout: float = 30.0
    """Seconds from the end of the body to the start of the reply."""
    retry_after: int = 2
    """Seconds a client is asked to wait after a 503 for an unavailable database."""
    authorised: Callable[[str | None], bool] | None = None
    """Checks an ``Authorization`` header; None: a server without tokens (rules 3 and 4)."""
    token_paths: tuple[str, ...] = ()
    """Path prefixes that need a token (when ``authorised`` is set)."""
    error_json: Callable[[str], str] = detail_json
    """The JSON body of a refusal, from its one-line message."""
    on_status: Callable[[int], None] | None = None
    """Called with the status of every refusal the guard answers (metrics)."""


class _BodyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def hostname(host: str) -> str:
    """The name part of a ``Host`` header value (no port; IPv6 brackets removed)."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware applying :class:`GuardConfig` to every HTTP request of the application it wraps."""

    def __init__(self, app: Any, *, config: GuardConfig) -> None:
        self.app = app
        self.config = config
        self.hosts = frozenset(hostname(h.lower()) for h in config.hosts)

    def screen(self, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, str] | None:
        """The refusal ``(status, message)`` a request gets before its body is read, or None."""
        cfg = self.config
        seen: dict[bytes, bytes] = {}
        for k, v in headers:
            if k in ONE_OF_EACH:
                if k in seen:
                    return 400, f"header {k.decode().title()!r}: given more than once"
                seen[k] = v
        if cfg.authorised is not None:
            if path.startswith(cfg.token_paths):
                auth = seen.get(b"authorization")
                if not cfg.authorised(None if auth is None else auth.decode("latin-1")):
                    return 401, "missing or invalid bearer token"
            return None
        raw_host = seen.get(b"host")
        if raw_host is None:
            return 400, "header 'Host': missing"
        host = raw_host.decode("latin-1")
        if hostname(host.lower()) not in self.hosts:
            return 421, (f"header 'Host': {host[:60]!r} is not this server (expected one of {sorted(self.hosts)})")
        if method in SAFE_METHODS:
            return None
        origin = seen.get(b"origin")
        if origin is not None and origin.decode("latin-1").lower().rstrip("/") != f"http://{host.lower()}":
            return 403, (f"header 'Origin': {origin.decode('latin-1')[:60]!r} is another site; cross-origin "
                         "requests that change anything are refused")
        if seen.get(b"sec-fetch-site") == b"cross-site":
            return 403, "header 'Sec-Fetch-Site': cross-site requests that change anything are refused"
        ctype = seen.get(b"content-type", b"").decode("latin-1")
        if ctype.split(";", 1)[0].strip().lower() != JSON:
            return 415, f"header 'Content-Type': expected application/json, got {ctype[:60]!r}"
        return None

    async def _read_body(self, receive: Any, headers: list[tuple[bytes, bytes]]) -> bytes | None:
        """The whole body within the limits (None: the client went away)."""
        cfg = self.config
        declared = next((v for k, v in headers if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > cfg.max_body):
            raise _BodyRefused(413, f"body: larger than the limit of {cfg.max_body} bytes")
        chunks: list[bytes] = []
        size, more = 0, True
        deadline = time.monotonic() + cfg.body_timeout
        while more:
            try:
                msg = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.0))
            except TimeoutError:
                raise _BodyRefused(408, f"body: not received within {cfg.body_timeout:g} s") from None
            if msg["type"] == "http.disconnect":
                return None
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > cfg.max_body:
                raise _BodyRefused(413, f"body: larger than the limit of {cfg.max_body} bytes")
            chunks.append(chunk)
            more = msg.get("more_body", False)
        return b"".join(chunks)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.screen(scope["method"], scope["path"], scope["headers"])
        if refused is not None:
            await self.reply(send, *refused, close=True)
            return
        try:
            body = await self._read_body(receive, scope["headers"])
        except _BodyRefused as exc:
            await self.reply(send, exc.status, str(exc), close=True)
            return
        if body is None:
            return
        await self._run(scope, body, receive, send)

    async def _run(self, scope: Any, body: bytes, receive: Any, send: Any) -> None:
        delivered = False
        state = {"started": False, "answered": False}

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return dict(await receive())

        async def tracked(message: dict[str, Any]) -> None:
            if state["answered"]:
                return  # the guard has answered already (time limit): what the app sends late is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, replay, tracked))
        done, _ = await asyncio.wait({task}, timeout=self.config.request_timeout)
        if not done:
            state["answered"] = True
            task.cancel()
            task.add_done_callback(_quiet)
            if not state["started"]:
                await self.reply(send, 503, f"request: not answered within the limit of "
                                            f"{self.config.request_timeout:g} s; its work was stopped", close=True)
            return
        exc = task.exception() if not task.cancelled() else None
        if exc is None:
            return
        status, message, retry = _failure(exc, self.config.retry_after)
        if status == 500:
            where = f"{scope['method']} {scope['path'][:80]}"
            log.error("accessrl: %s failed: %s: %s", where, type(exc).__name__,
                      (str(exc).splitlines() or [""])[0][:200])
        if state["started"]:
            return  # the reply was under way; the log line is all that can be said
        state["answered"] = True
        await self.reply(send, status, message, close=status >= 500, retry_after=retry)

    async def reply(self, send: Any, status: int, message: str, *, close: bool, retry_after: int | None = None) -> None:
        """Send a refusal: ``status`` and the configured JSON body for ``message``."""
        if self.config.on_status is not None:
            self.config.on_status(status)
        body = self.config.error_json(message).encode()
        head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if retry_after is not None:
            head.append((b"retry-after", str(retry_after).encode()))
        if close:
            head.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": body})


def _quiet(task: asyncio.Future[Any]) -> None:
    """Collect the outcome of work abandoned past the time limit (no 'never retrieved' warning)."""
    if not task.cancelled():
        task.exception()


def _failure(exc: BaseException, retry_after: int) -> tuple[int, str, int | None]:
    """Status, message and ``Retry-After`` of an exception that escaped the application."""
    if isinstance(exc, UnavailableError):
        return 503, f"{exc}; try again shortly", retry_after
    if isinstance(exc, ComputeLimit):
        return 503, str(exc), exc.retry_after
    first = (str(exc).splitlines() or [""])[0][:200]
    return 500, f"internal error ({type(exc).__name__}{': ' + first if first else ''})", None


def guarded_app(config: GuardConfig, *, app_class: Any = None, **kwargs: Any) -> Any:
    """A FastAPI application (``app_class``, default ``FastAPI``) built with :class:`Guard` as its
    outermost middleware: every route added to it, now or later, is guarded.  The config is
    kept as ``app.state.guard``."""
    if app_class is None:
        from fastapi import FastAPI

        app_class = FastAPI
    app = app_class(**kwargs)
    app.state.guard = config
    add_guard(app, config)

    async def limited(_request: Any, exc: Exception) -> Any:
        # Registered on the app so that a broader handler (the studio's for every AccessRLError)
        # cannot turn a 503 into something else: Starlette picks the most specific class.
        from starlette.responses import Response

        status, message, retry = _failure(exc, config.retry_after)
        if config.on_status is not None:
            config.on_status(status)
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return Response(config.error_json(message), status_code=status, media_type=JSON, headers=headers)

    app.add_exception_handler(UnavailableError, limited)
    app.add_exception_handler(ComputeLimit, limited)
    return app


def add_guard(app: Any, config: GuardConfig) -> None:
    """Make :class:`Guard` the outermost middleware of ``app`` (call after any other ``add_middleware``;
    :func:`guarded_app` keeps it outermost by re-adding it last when the stack is built)."""
    original = app.build_middleware_stack

    def build() -> Any:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not Guard]
        from starlette.middleware import Middleware

        app.user_middleware.insert(0, Middleware(Guard, config=config))
        return original()

    app.build_middleware_stack = build


__all__ = ["LOOPBACK_NAMES", "Guard", "GuardConfig", "add_guard", "detail_json", "guarded_app", "hostname"]
