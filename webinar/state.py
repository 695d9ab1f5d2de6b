"""The application's typed state: what `create_app` builds once and every handler, job and test reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import HTTPConnection

if TYPE_CHECKING:  # the types only: the app factory, at the top, builds each of them
    from starlette.templating import Jinja2Templates

    from webinar.access.queries import JoinStarts
    from webinar.db import DB
    from webinar.mail.render import Mailer
    from webinar.presence.heartbeats import HeartbeatWriter
    from webinar.presence.limits import ChannelCap
    from webinar.presence.revocations import Revocations
    from webinar.presence.takeover import OpenPages
    from webinar.registration.services import Registrar
    from webinar.settings import Settings
    from webinar.web.pagecache import PageCache
    from webinar.web.traffic import Traffic


class AppState(State):
    """`app.state`, with a type for each thing on it."""

    settings: Settings
    db: DB
    templates: Jinja2Templates
    pages: PageCache
    mailer: Mailer
    registrar: Registrar
    join_starts: JoinStarts
    heartbeats: HeartbeatWriter
    revocations: Revocations
    channel_cap: ChannelCap
    open_pages: OpenPages
    traffic: Traffic


def app_state(holder: HTTPConnection | Starlette) -> AppState:
    """The state of the app serving a request or a WebSocket (or of the app itself)."""
    app = holder.app if isinstance(holder, HTTPConnection) else holder
    return cast(AppState, app.state)
