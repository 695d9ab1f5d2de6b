"""uvicorn's access log on a real server: the paths of personal links are logged with their token redacted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tests.reliability.conftest import Platform
from tests.webinar.access_helpers import join_path, load_event, on_now
from webinar.db import DB
from webinar.links.cancel import cancel_url
from webinar.links.privacy import unsubscribe_url
from webinar.registration import queries
from webinar.settings import Settings
from webinar.web.redact import REDACTED


async def test_the_access_log_shows_personal_links_without_their_tokens(
    served: Platform,
    settings: Settings,
    db: DB,
    create_event: Callable[..., Awaitable[int]],
    create_registration: Callable[..., Awaitable[int]],
) -> None:
    event = await load_event(db, await create_event(**on_now(slug="logged")))
    reg_id = await create_registration(event.id, email="ana@example.org")
    async with db.connection() as conn:
        reg = await queries.by_id(conn, event.id, reg_id)
    web = served.serve("web")
    paths = [
        join_path(settings, event, reg_id),
        cancel_url(settings, event, reg).removeprefix(settings.base_url),
        unsubscribe_url(settings, event, reg_id, 1).removeprefix(settings.base_url),
    ]
    async with httpx.AsyncClient(base_url=web.base_url) as http:
        for path in paths:
            assert (await http.get(path)).status_code in (200, 303), path
    log = web.tail(200_000)
    for path in paths:
        head, token = path.rsplit("/", 1)
        assert token not in log, log[-3000:]
        assert f'"GET {head}/{REDACTED} HTTP/1.1" ' in log, log[-3000:]
