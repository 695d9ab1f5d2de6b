"""The ground floor: schema matches migrations, pages render, security headers, limits and errors."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import csrf_for
from webinar.app import create_app
from webinar.db import alembic_url
from webinar.settings import Settings
from webinar.tables import metadata
from webinar.web.cookies import set_cookie_value


async def test_migrations_give_exactly_the_tables_metadata(database_url: str) -> None:
    engine = create_async_engine(alembic_url(database_url))
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_home_lists_upcoming_listed_events_only(client: httpx.AsyncClient, create_event) -> None:
    await create_event(title="Webinar listat", listed=True)
    await create_event(title="Webinar ascuns", listed=False)
    response = await client.get("/")
    assert response.status_code == 200
    assert "Webinar listat" in response.text
    assert "Webinar ascuns" not in response.text


async def test_event_page_shows_event_in_its_time_zone(client: httpx.AsyncClient, create_event) -> None:
    import datetime as dt

    start = dt.datetime(2030, 3, 5, 12, 0, tzinfo=dt.UTC)  # 14:00 in Bucharest (EET, UTC+2)
    await create_event(
        slug="stiinta", title="Știință & <Tehnologie>", starts_at=start, ends_at=start + dt.timedelta(hours=2)
    )
    response = await client.get("/events/stiinta")
    assert response.status_code == 200
    assert "Știință &amp; &lt;Tehnologie&gt;" in response.text  # autoescaped
    assert "14:00" in response.text


async def test_unknown_event_is_a_friendly_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/events/no-such-event")
    assert response.status_code == 404
    assert "Page not found" in response.text or "Pagina nu a fost găsită" in response.text
    assert "Traceback" not in response.text


async def test_security_headers_on_every_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize("https_only", [False, True], ids=["http", "https-only"])
async def test_the_session_and_language_cookies_are_http_only_same_site_and_secure_when_https_only(
    settings: Settings, create_event, https_only: bool
) -> None:
    await create_event(slug="cookies")
    app = create_app(dataclasses.replace(settings, https_only=https_only))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
            page = await http.get("/events/cookies?lang=ro")
    secure, host = ("; Secure", "__Host-") if https_only else ("", "")  # __Host-: this host only, over HTTPS
    session, language = sorted((c.removeprefix(host) for c in page.headers.get_list("set-cookie")), reverse=True)
    assert all(c.startswith(host) for c in page.headers.get_list("set-cookie"))
    assert re.fullmatch(rf"webinar_session=[\w.-]+; HttpOnly; Max-Age=2592000; Path=/; SameSite=Lax{secure}", session)
    assert language == f"webinar_lang=ro; HttpOnly; Max-Age=31536000; Path=/; SameSite=Lax{secure}"


def test_a_cookie_value_that_would_need_quoting_is_refused() -> None:
    with pytest.raises(ValueError, match="cookie-safe"):
        set_cookie_value("webinar_lang", 'ro"; Domain=evil.example', 60, False)


async def test_ten_megabyte_body_is_refused_at_once(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/admin/login", content=b"x" * (10 * 1024 * 1024), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413


async def test_post_without_csrf_token_is_403(client: httpx.AsyncClient) -> None:
    response = await client.post("/admin/login", data={"email": "a@example.org", "password": "x" * 12})
    assert response.status_code == 403


async def test_cross_site_origin_is_refused(client: httpx.AsyncClient) -> None:
    token = await csrf_for(client, "/admin/login")
    response = await client.post(
        "/admin/login",
        data={"email": "a@example.org", "password": "x" * 12, "csrf_token": token},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403


async def test_too_many_form_fields_is_400(client: httpx.AsyncClient) -> None:
    token = await csrf_for(client, "/admin/login")
    data = {f"f{i}": "x" for i in range(5000)} | {"csrf_token": token}
    response = await client.post("/admin/login", data=data)
    assert response.status_code == 400


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).text == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True


async def test_static_files_and_no_path_traversal(client: httpx.AsyncClient) -> None:
    assert (await client.get("/static/css/site.css")).status_code == 200
    assert (await client.get("/static/../webinar/settings.py")).status_code == 404
    assert (await client.get("/static/%2e%2e/webinar/settings.py")).status_code == 404


async def test_concurrent_requests_share_the_pool(client: httpx.AsyncClient, create_event) -> None:
    await create_event(slug="concurent")
    responses = await asyncio.gather(*(client.get("/events/concurent") for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
