"""The embedded registration form in a real Chromium (SPEC §14): a page on another site (http://localhost:PORT, not
the app's http://127.0.0.1:PORT) that the event lists frames the form, and a person registers through it without any
cookie of ours; a page the event does not list gets a blocked frame with no form in it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.servers import free_port
from tests.webinar.regutil import registration_rows
from webinar.db import DB
from webinar.events.embed import snippet

pytestmark = pytest.mark.browser


class Site:
    """The organiser's own site: a real HTTP server on localhost serving the pages a test gives it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path, "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def page(self, path: str, frame_url: str) -> str:
        frame, resizer = snippet(frame_url, "Registration")
        self.pages[path] = f"<!doctype html><title>Our site</title><h1>Our site</h1>{frame}{resizer}"
        return self.origin + path


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site()
    running.thread.start()
    try:
        yield running
    finally:
        running.httpd.shutdown()
        running.httpd.server_close()


async def test_a_listed_site_frames_the_form_and_a_person_registers_through_it(
    server: Server, browser: Any, site: Site, db: DB, create_event
) -> None:
    await create_event(slug="embedded", language="en", embed_origins=f"https://www.example.ro\n{site.origin}")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(site.page("/signup.html", f"{server.base_url}/events/embedded/embed"))
    frame = page.frame_locator("iframe.webinar-embed")
    await frame.locator("input[name=first_name]").fill("Ioana")
    await frame.locator("input[name=last_name]").fill("Vlad")
    await frame.locator("input[name=email]").fill("ioana.vlad@example.org")
    await frame.locator("input[name=consent_processing]").check()
    await frame.locator("input[name=age_confirmed]").check()
    # The optional script has sized the frame to the form (its height came from the frame by postMessage).
    await page.wait_for_function("document.querySelector('iframe.webinar-embed').style.height !== '1200px'")
    await frame.locator("form button[type=submit]").click()
    await frame.get_by_text("Thank you for registering").wait_for()
    assert page.url == f"{site.origin}/signup.html"  # the organiser's page stayed; only the frame moved on
    [reg] = await registration_rows(db)
    assert reg["email_normalised"] == "ioana.vlad@example.org" and reg["status"] == "approved"
    # No cookie of ours was needed (nor could a cross-site frame keep a SameSite=Lax one).
    assert [c for c in await context.cookies() if c["domain"] == "127.0.0.1"] == []
    await context.close()


async def test_a_site_the_event_does_not_list_gets_a_blocked_frame(
    server: Server, browser: Any, site: Site, db: DB, create_event
) -> None:
    await create_event(slug="elsewhere", language="en", embed_origins="https://www.example.ro")
    await create_event(slug="nowhere", language="en")
    page = await browser.new_page()
    for slug in ("elsewhere", "nowhere"):
        await page.goto(site.page(f"/{slug}.html", f"{server.base_url}/events/{slug}/embed"))
        handle = await page.query_selector("iframe.webinar-embed")
        frame = await handle.content_frame() if handle else None
        assert frame is not None
        assert await frame.locator("form").count() == 0, slug
        assert await frame.locator("input[name=first_name]").count() == 0, slug
    # The same page straight in the browser is the form: it is the framing that is refused.
    await page.goto(f"{server.base_url}/events/elsewhere/embed")
    assert await page.locator("input[name=first_name]").count() == 1
    assert await registration_rows(db) == []
