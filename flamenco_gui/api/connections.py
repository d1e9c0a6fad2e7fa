"""Connections the manager holds: capped in all and per address, and timed.

aiohttp reaps a connection that never sends a byte (its keep-alive timer starts at
connect) but not one that trickles its headers a byte at a time (slowloris), and it
accepts connections until the process runs out of descriptors, after which nobody is
answered, workers included. This server adds, per connection:

- a header timeout: from connect, or from the end of an answer plus the keep-alive
  time, to the end of the next request's headers; then a 408 and the socket closed;
- a cap on open connections in all (lowered to fit the descriptor limit) and per
  address: over either, a 429 naming the limit and the socket closed at once.

Limits are those of `flamenco_gui.limits` (docs/limits.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections import Counter
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from flamenco_gui.limits import LIMITS, Limits

log = logging.getLogger(__name__)

# aiohttp's own limits on a request's head (its defaults), named in the 431 answer.
MAX_FIELD_SIZE = 8190
MAX_HEADERS = 128

# Descriptors kept for everything but client sockets: SQLite, logs, previews, mDNS.
FD_RESERVE = 64


def connection_cap(limits: Limits) -> int:
    """`max_connections`, lowered so that the process never runs out of descriptors
    (Unix; Windows has no such per-process limit on sockets)."""
    if sys.platform == "win32":
        return limits.max_connections
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return limits.max_connections
    return max(8, min(limits.max_connections, soft - FD_RESERVE))


def _answer(status: int, reason: str, message: str, extra: str = "") -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


class JsonErrors(RequestHandler):
    """aiohttp's connection handler, answering a request that does not even parse (a
    header line over 8 KiB, too many headers, a broken request line) with the JSON
    error every other answer has, instead of a text/plain page; 431 for headers too big."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        text = exc.message if isinstance(exc.message, str) else str(exc)
        too_big = isinstance(exc, LineTooLong) or "Too many headers" in text
        if too_big:
            status = 431
            text = (
                f"headers: too large (at most {MAX_FIELD_SIZE} bytes a line, {MAX_HEADERS}"
                f" headers): {text[:200]}"
            )
        log.debug("refused a request from %s: %s", request.remote, text)
        response = web.json_response(
            {"error": f"request: {text[:300]}" if not too_big else text},
            status=status if 400 <= status < 500 else 400,
        )
        response.force_close()
        return response


class GuardedServer(web.Server):
    """aiohttp's server (built by the runner) with the caps and the header timeout."""

    def __init__(self, inner: web.Server, limits: Limits = LIMITS) -> None:
        super().__init__(
            inner.request_handler,
            request_factory=self._headers_in(inner.request_factory),
            handler_cancellation=inner.handler_cancellation,
            loop=inner._loop,
            **inner._kwargs,
        )
        self._limits = limits
        self._per_address: Counter[str] = Counter()
        self._address: dict[RequestHandler, str] = {}
        # A connection's header deadline (None while a request is handled), and the
        # one timer that watches it with the time it is due (qasync's handles have no
        # `when()`).
        self._deadlines: dict[RequestHandler, float | None] = {}
        self._timers: dict[RequestHandler, tuple[float, asyncio.Handle]] = {}
        self.refused = 0  # connections turned away by a cap (for tests and logs)
        self.timed_out = 0  # connections closed by the header timeout
        inner_handler = self.request_handler

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            try:
                return await inner_handler(request)
            finally:
                # The next request's headers are due after the keep-alive time.
                protocol = request.protocol
                if isinstance(protocol, RequestHandler) and protocol in self._address:
                    self._arm(protocol, limits.keepalive_timeout + limits.header_timeout)

        self.request_handler = handle

    def _headers_in(self, factory: Any) -> Any:
        def make_request(message: Any, payload: Any, protocol: Any, *args: Any) -> Any:
            if protocol in self._deadlines:
                self._deadlines[protocol] = None  # its headers are in
            return factory(message, payload, protocol, *args)

        return make_request

    def _arm(self, protocol: RequestHandler, delay: float) -> None:
        """The next request's headers are due in `delay` seconds.

        A connection keeps one timer, moved on only when it fires before a deadline
        that a request and its answer pushed later. A timer made and cancelled per
        request was heap churn for asyncio and, for qasync, a Qt timer alive until its
        time (keep-alive plus header timeout), cancelled or not: thousands at once."""
        deadline = self._loop.time() + delay
        self._deadlines[protocol] = deadline
        timer = self._timers.get(protocol)
        if timer is not None:
            if timer[0] <= deadline:
                return
            timer[1].cancel()
        self._watch(protocol, deadline)

    def _watch(self, protocol: RequestHandler, deadline: float) -> None:
        handle = self._loop.call_at(deadline, self._due, protocol)
        self._timers[protocol] = (deadline, handle)

    def _due(self, protocol: RequestHandler) -> None:
        self._timers.pop(protocol, None)
        deadline = self._deadlines.get(protocol)
        if deadline is None:
            return  # a request is being handled: its answer arms the timer again
        if deadline > self._loop.time():
            self._watch(protocol, deadline)
            return
        transport = protocol.transport
        if transport is None or transport.is_closing():
            return
        self.timed_out += 1
        seconds = self._limits.header_timeout
        transport.write(
            _answer(
                408,
                "Request Timeout",
                f"headers: not received within header_timeout ({seconds:g} s)",
            )
        )
        transport.close()

    def __call__(self) -> RequestHandler:
        return JsonErrors(self, loop=self._loop, **self._kwargs)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        self._address[handler] = address
        self._per_address[address] += 1
        over = None
        cap = connection_cap(self._limits)
        if len(self._address) > cap:
            over = f"max_connections ({cap})"
        elif self._per_address[address] > self._limits.max_connections_per_address:
            over = f"max_connections_per_address ({self._limits.max_connections_per_address})"
        if over is not None:
            self.refused += 1
            log.warning("refused a connection from %s: over %s", address, over)
            message = f"too many connections: over {over}; try again later"
            transport.write(_answer(429, "Too Many Requests", message, "Retry-After: 1\r\n"))
            transport.pause_reading()
            # Closed once aiohttp's handler task has started (closing now would end the
            # connection before the task that expects it runs).
            self._loop.call_soon(transport.close)
            return
        self._arm(handler, self._limits.header_timeout)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self._deadlines.pop(handler, None)
        timer = self._timers.pop(handler, None)
        if timer is not None:
            timer[1].cancel()
        address = self._address.pop(handler, None)
        if address is not None:
            self._per_address[address] -= 1
            if not self._per_address[address]:
                del self._per_address[address]
        super().connection_lost(handler, exc)


class GuardedRunner(web.AppRunner):
    """`web.AppRunner` whose server is a `GuardedServer`."""

    async def _make_server(self) -> web.Server:
        return GuardedServer(await super()._make_server())

    @property
    def guard(self) -> GuardedServer | None:
        server = self.server
        return server if isinstance(server, GuardedServer) else None
