"""The application factory: middleware, routes, and a lifespan that owns the database and background jobs."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from webinar import stopping
from webinar.access.queries import JoinStarts
from webinar.db import DB
from webinar.groupwrite import GroupWriter
from webinar.jobs import Context, Job, run_all
from webinar.mail.render import Mailer
from webinar.presence.heartbeats import HeartbeatWriter
from webinar.presence.limits import ChannelCap
from webinar.presence.revocations import Revocations
from webinar.presence.takeover import OpenPages
from webinar.registration.services import Registrar
from webinar.settings import Settings, load_settings
from webinar.state import AppState, app_state
from webinar.templating import make_templates
from webinar.web import redact
from webinar.web.cookies import SessionCookieMiddleware
from webinar.web.errors import exception_handlers
from webinar.web.language import LanguageMiddleware
from webinar.web.middleware import (
    BodyLimitMiddleware,
    NulRefusalMiddleware,
    OriginCheckMiddleware,
    SecurityHeadersMiddleware,
)
from webinar.web.pagecache import PageCache
from webinar.web.traffic import Traffic, TrafficMiddleware

log = logging.getLogger("webinar")


def background_jobs() -> list[Job]:
    """The jobs `webinar serve` runs beside the web app (and `webinar worker` runs alone)."""
    from webinar.worker import jobs

    return jobs()


# A worker holding thousands of presence channels has about a million objects the cycle collector tracks, and
# a full collection of them stops it for most of a second (gc.callbacks, 10,000 viewers: 600-1,400 ms, every
# 20-50 s). A full collection follows the growth of the oldest generation, and what a channel keeps between two
# heartbeats lives long enough to reach it at the default thresholds. Young collections every 50,000
# allocations (not 700) and middle ones every 20 let such objects die young instead; only reference cycles wait
# longer to be freed (everything else goes by reference counting at once).
GC_THRESHOLDS = (50_000, 20, 10)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    gc.set_threshold(*GC_THRESHOLDS)
    db = app_state(app).db
    await db.connect()
    jobs = background_jobs() if app_state(app).settings.run_background else []
    background = asyncio.create_task(run_all(jobs, Context.of(app)))
    # In every web worker, background jobs or not: it closes the channels this process holds.
    revocations = asyncio.create_task(app_state(app).revocations.run())
    try:
        yield
    finally:
        revocations.cancel()  # it only reads; nothing to finish
        await asyncio.gather(revocations, return_exceptions=True)
        await stop_in_order(app_state(app), background)


async def stop_in_order(state: AppState, background: asyncio.Future[None]) -> None:
    """The app's part of a stop (docs/deploy.md "Stopping"), once the requests are done or cut off, each step bounded:
    the jobs (an e-mail being sent is finished, the others it claimed given back, leases released), the group
    writers' last groups, then the pools."""
    await stopping.finish(background, stopping.JOBS_SECONDS, "the background jobs")
    writers: dict[str, GroupWriter[Any, Any]] = {
        "registrations": state.registrar.writer.groups,
        "heartbeats": state.heartbeats.groups,
        "join links": state.join_starts.groups,
    }
    for name, writer in writers.items():
        if not await writer.finish(stopping.WRITERS_SECONDS):
            log.error("stop: a group of %s was still being written after %g s", name, stopping.WRITERS_SECONDS)
    await state.db.disconnect(within=stopping.POOLS_SECONDS)


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the platform's ASGI application."""
    from admin.routes import UPLOADS, back_office
    from reports.routes import routes as report_routes
    from webinar.api.routes import mount as api_mount
    from webinar.routes import routes as public_routes

    settings = settings or load_settings()
    redact.install()  # uvicorn's access log would print every join link's token
    state = build_state(settings)
    middleware = [
        Middleware(TrafficMiddleware, traffic=state.traffic),  # the mail sender inside gives way to requests
        Middleware(SecurityHeadersMiddleware, https_only=settings.https_only),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, uploads=UPLOADS),
        Middleware(NulRefusalMiddleware),
        Middleware(OriginCheckMiddleware, base_url=settings.base_url),
        Middleware(SessionCookieMiddleware, secret=str(settings.secret_key), https_only=settings.https_only),
        Middleware(LanguageMiddleware, https_only=settings.https_only),
    ]
    app = Starlette(
        debug=False,
        routes=[*public_routes, api_mount(), back_office(*report_routes)],
        middleware=middleware,
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    # Every page builds several URLs, and Starlette finds each by trying every route in turn (an exception per
    # miss): a tenth of the stream page's CPU. A route's URL for the same name and parameters never changes.
    app.router.url_path_for = functools.lru_cache(maxsize=4096)(app.router.url_path_for)  # type: ignore[method-assign]
    app.state = state
    return app


def build_state(settings: Settings) -> AppState:
    """Everything the app keeps for its life: the database, the templates, the writers of the hot paths."""
    state = AppState()
    state.settings, state.db, state.templates = settings, DB(settings), make_templates()
    state.pages = PageCache(state.templates)
    state.mailer = Mailer(settings, state.templates.env)
    state.registrar = Registrar(state.db, state.mailer)
    state.join_starts = JoinStarts(state.db)
    state.heartbeats = HeartbeatWriter(state.db, dt.timedelta(minutes=settings.session_idle_minutes))
    state.revocations = Revocations(state.db, settings.revocation_poll_seconds)
    state.channel_cap = ChannelCap()
    state.open_pages = OpenPages()
    state.traffic = Traffic()
    return state
