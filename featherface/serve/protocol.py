"""uvicorn's HTTP/1.1 protocol with a deadline on the request headers.

uvicorn times out an idle kept-alive connection between requests, but a fresh connection that
sends nothing, or its headers a byte at a time, is held open for ever: 400 such clients held 400
sockets of the issue-28 server. A timer armed when the connection opens (and after each answer)
closes it unless a request has started ``header_timeout_s`` later. The body's deadline is the application's
(``upload_timeout_s``: 408).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["header_timeout_protocol", "uvicorn_options"]


def header_timeout_protocol(header_timeout_s: float) -> type[H11Protocol]:
    """An ``H11Protocol`` subclass (uvicorn's ``http=``) closing connections whose request line
    and headers have not arrived ``header_timeout_s`` seconds after connecting."""

    class HeaderTimeoutH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request's headers get the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a request is under way: the upload deadline and the request timeout take over
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutH11Protocol


def uvicorn_options(settings: Any) -> dict[str, Any]:
    """The ``uvicorn.Config`` keywords that bound slow and idle clients and open connections."""
    return {"http": header_timeout_protocol(settings.header_timeout_s), "timeout_keep_alive": 5,
            "limit_concurrency": settings.max_connections}
