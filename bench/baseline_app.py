"""Benchmark baselines: (a) a bare Starlette "ok", (b) the same form and one raw asyncpg INSERT, a bare WebSocket.

Served by uvicorn with 2 workers, like the platform: `uvicorn bench.baseline_app:app --workers 2`.
The INSERT goes into `bench_baseline` (created by the runner) with the columns a registration has.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

INSERT = """
INSERT INTO bench_baseline (email, first_name, last_name, organisation, consent, created_at)
VALUES ($1, $2, $3, $4, $5, now())
"""


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def register(request: Request) -> Response:
    form = await request.form()
    pool: asyncpg.Pool = request.app.state.pool
    await pool.execute(
        INSERT,
        str(form.get("email", "")),
        str(form.get("first_name", "")),
        str(form.get("last_name", "")),
        str(form.get("organisation", "")),
        bool(form.get("consent_processing")),
    )
    return RedirectResponse("/registered", status_code=303)


async def ws(websocket: WebSocket) -> None:
    """A bare presence channel: open, then an ack per message, no database."""
    await websocket.accept()
    await websocket.send_text('{"type": "open", "session": 1, "heartbeat": 30}')
    try:
        while True:
            await websocket.receive_text()
            await websocket.send_text('{"type": "ack"}')
    except WebSocketDisconnect:
        return


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["BENCH_DATABASE_URL"], min_size=2, max_size=10)
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[Route("/ok", ok), Route("/register", register, methods=["POST"]), WebSocketRoute("/ws", ws)],
    lifespan=lifespan,
)
