"""Staff login and sessions: the cookie, equal answers, rate limits, logout and "log out everywhere"."""

from __future__ import annotations

import httpx

from tests.admin.helpers import sends_to_login
from tests.conftest import csrf_for, login_staff
from webinar.web.cookies import COOKIE_NAME


async def test_login_cookie_is_httponly_lax_and_opaque(client: httpx.AsyncClient, create_staff) -> None:
    user = await create_staff("operator", email="ana.popescu@example.org")
    response = await login_staff(client, user.email)
    assert response.status_code == 303
    cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith(COOKIE_NAME + "="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    value = cookie.split(";")[0].split("=", 1)[1].lower()
    for leak in ("ana", "popescu", "example", "operator", str(user.id) + "|"):
        assert leak not in value
    assert (await client.get("/admin/")).status_code == 200


async def test_wrong_password_and_unknown_account_answer_alike(client: httpx.AsyncClient, create_staff) -> None:
    user = await create_staff("operator")
    token = await csrf_for(client, "/admin/login")
    wrong = await client.post("/admin/login", data={"email": user.email, "password": "x" * 20, "csrf_token": token})
    unknown = await client.post(
        "/admin/login", data={"email": "nobody@example.org", "password": "x" * 20, "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 400
    assert "Wrong e-mail address or password." in wrong.text
    assert wrong.text.replace(user.email, "nobody@example.org") == unknown.text


async def test_sixth_wrong_attempt_in_a_row_for_an_account_is_429(client: httpx.AsyncClient, create_staff) -> None:
    user = await create_staff("operator")
    token = await csrf_for(client, "/admin/login")
    for _attempt in range(5):
        response = await client.post(
            "/admin/login", data={"email": user.email, "password": "wrong password!", "csrf_token": token}
        )
        assert response.status_code == 400
    response = await client.post(
        "/admin/login", data={"email": user.email, "password": "wrong password!", "csrf_token": token}
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1


async def test_replayed_cookie_after_logout_gets_the_login_page(client: httpx.AsyncClient, create_staff) -> None:
    user = await create_staff("operator")
    await login_staff(client, user.email)
    old_cookie = client.cookies[COOKIE_NAME]
    token = await csrf_for(client, "/admin/")
    response = await client.post("/admin/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"].endswith("/admin/login?signed_out=1")
    told = await client.get(response.headers["location"])
    assert 'id="signed-out"' in told.text and "You are signed out." in told.text
    client.cookies.set(COOKIE_NAME, old_cookie)
    response = await client.get("/admin/")
    assert sends_to_login(response)
    page = await client.get(response.headers["location"])
    assert page.status_code == 200 and "Staff login" in page.text


async def test_log_out_everywhere_ends_an_existing_session(app, client: httpx.AsyncClient, create_staff) -> None:
    organiser = await create_staff("operator")
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await login_staff(other, organiser.email)
        assert (await other.get("/admin/")).status_code == 200
        operator = await create_staff("operator")
        await login_staff(client, operator.email)
        token = await csrf_for(client, "/admin/users")
        response = await client.post(f"/admin/users/{organiser.id}/revoke-sessions", data={"csrf_token": token})
        assert response.status_code == 303
        response = await other.get("/admin/")
        assert sends_to_login(response)
    assert (await client.get("/admin/")).status_code == 200  # the operator's own session lives on


async def test_admin_front_page_sends_anonymous_visitors_to_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/")
    assert sends_to_login(response)


async def test_with_https_every_cookie_is_host_prefixed(settings, create_staff) -> None:
    from webinar.app import create_app

    app = create_app(settings.with_overrides(https_only=True, base_url="https://testserver"))
    async with app.router.lifespan_context(app):
        user = await create_staff("operator")
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50100))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
            await http.get("/?lang=ro")
            response = await login_staff(http, user.email)
            assert response.status_code == 303
            cookies = response.headers.get_list("set-cookie")
            names = {c.split("=", 1)[0] for c in cookies}
            assert names == {"__Host-" + COOKIE_NAME, "__Host-webinar_device"}
            for cookie in cookies:  # what a browser demands of a __Host- cookie
                flags = [part.strip().lower() for part in cookie.split(";")]
                assert "secure" in flags and "path=/" in flags and not any(f.startswith("domain") for f in flags)
            assert set(http.cookies) >= {"__Host-" + COOKIE_NAME, "__Host-webinar_lang", "__Host-webinar_device"}
            assert (await http.get("/admin/")).status_code == 200
            # The same session id under the plain name (planted over HTTP, or by a sibling subdomain) is ignored.
            value = http.cookies["__Host-" + COOKIE_NAME]
            http.cookies.clear()
            http.cookies.set(COOKIE_NAME, value)
            assert sends_to_login(await http.get("/admin/"))


def test_a_short_secret_key_is_refused_whatever_https_only_says(tmp_path) -> None:
    import pytest

    from webinar.settings import SettingsError, load_settings

    for https in ("true", "false"):
        env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "k" * 31, "HTTPS_ONLY": https}
        with pytest.raises(SettingsError, match="SECRET_KEY is too short"):
            load_settings(env)
    assert str(load_settings({**env, "SECRET_KEY": "k" * 32}).secret_key) == "k" * 32
