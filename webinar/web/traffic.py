"""The HTTP requests a process is serving now, counted by a middleware, so that deferred work done in the same
process (the mail sender inside `webinar serve`) gives way to them during a rush instead of taking their CPU."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send


class Traffic:
    """How many HTTP requests this process is serving; `quiet` waits (a bounded while) until there are none."""

    def __init__(self) -> None:
        self.in_flight = 0
        self._quiet: asyncio.Event | None = None  # made in the serving loop, at the first wait

    def started(self) -> None:
        self.in_flight += 1

    def finished(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and self._quiet is not None:
            self._quiet.set()

    async def quiet(self, at_most: float) -> None:
        """Return once no request is being served, or after `at_most` seconds whatever the traffic (deferred work
        slows down during a rush; it never stops)."""
        if self.in_flight == 0:
            return
        if self._quiet is None:
            self._quiet = asyncio.Event()
        self._quiet.clear()
        try:
            await asyncio.wait_for(self._quiet.wait(), at_most)
        except TimeoutError:
            pass


class TrafficMiddleware:
    """Counts each HTTP request, from its first byte to its response's last, in the app's `Traffic` (WebSockets
    are not counted: a viewer's stays open for the whole webinar)."""

    def __init__(self, app: ASGIApp, traffic: Traffic) -> None:
        self.app, self.traffic = app, traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.traffic.started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.traffic.finished()
