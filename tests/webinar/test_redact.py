"""The tokens of personal links stay out of stored e-mails once sent, and out of every route's logged path."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from tests.webinar.regutil import open_form, outbox_rows, person
from webinar.clock import now
from webinar.db import DB
from webinar.links.tokens import JOIN, make_token
from webinar.mail.sender import deliver_due
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings
from webinar.web.redact import REDACTED, redact, redact_ics

LINK_RE = re.compile(r"http://testserver/events/[\w-]+/join/([\w.\-]+)")


def paths(routes: list[BaseRoute], prefix: str = "") -> Iterator[str]:
    for route in routes:
        if isinstance(route, Mount):
            yield from paths(list(route.routes), prefix + route.path)
        else:
            yield prefix + getattr(route, "path", "")


def test_every_route_that_takes_a_token_has_it_redacted(app: Starlette, settings: Settings) -> None:
    token = make_token(str(settings.secret_key), JOIN, 12345, 1, now())
    with_token = sorted({path for path in paths(app.routes) if "{token}" in path})
    assert len(with_token) >= 4  # join, cancel, unsubscribe, confirm-email
    for path in with_token:
        concrete = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: token if m[1] == "token" else "x-1", path)
        line = f'127.0.0.1:5000 - "GET {concrete}?utm=1 HTTP/1.1" 200'
        assert token not in redact(line) and f"/{REDACTED}?utm=1" in redact(line), path
    for path in sorted(set(paths(app.routes)) - set(with_token)):  # nothing else is touched
        assert redact(path) == path


def test_a_token_split_by_the_folding_of_an_ics_line_is_redacted_whole() -> None:
    folded = (
        "DESCRIPTION:Link: https://x.example/events/curs/join/AbCdEfGhIj\r\n KlMn.OpQr\r\nURL:https://x.example\r\n"
    )
    assert (
        redact_ics(folded)
        == f"DESCRIPTION:Link: https://x.example/events/curs/join/{REDACTED}\r\nURL:https://x.example\r\n"
    )


async def test_a_sent_email_is_kept_with_its_links_redacted_and_the_mail_queue_shows_no_token(
    client: httpx.AsyncClient,
    create_event: Callable[..., Awaitable[int]],
    db: DB,
    smtp_server: Any,
    smtp_settings: Settings,
    operator_client: Callable[[], Awaitable[httpx.AsyncClient]],
) -> None:
    await create_event(slug="redacted")
    hidden = await open_form(client, "redacted")
    data = {**person(), **hidden}
    assert (await client.post("/events/redacted/register", data=data)).status_code == 303
    assert await deliver_due(smtp_settings, db, compose_queued) == 1
    [received] = smtp_server.messages
    sent = received.message.as_string()
    token = LINK_RE.search(received.message.get_body(("plain",)).get_content())[1]  # type: ignore[index]
    [row] = await outbox_rows(db)
    kept = " ".join(row[c] or "" for c in ("body_text", "body_html", "headers_json", "ics"))
    assert token not in kept.replace("\r\n ", "") and "/events/redacted/join/" + REDACTED in row["body_text"]
    assert REDACTED in row["body_html"] and row["status"] == "sent" and row["subject"]
    http = await operator_client()
    page = await http.get(f"/admin/outbox/{row['id']}")
    assert page.status_code == 200 and REDACTED in page.text and token not in page.text
    assert token in sent.replace("=\n", "")  # what was sent is untouched: the link in the mailbox works
    joined = await client.get(f"/events/redacted/join/{token}")
    assert joined.status_code == 303
