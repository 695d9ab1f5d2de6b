"""Hostile input against the real app: each gets a clear 4xx (never a 500), stores nothing, and the app stays well."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from tests.conftest import csrf_for, csrf_from, login_staff
from tests.webinar.access_helpers import join_path, load_event, on_now
from tests.webinar.regutil import counts, open_form, outbox_rows, person, registration_rows
from webinar.db import DB
from webinar.links.tokens import UNSUBSCRIBE, make_token
from webinar.mail.sender import deliver_due
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings
from webinar.web.cookies import COOKIE_NAME

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
# Letters outside 0-9a-f around the expression, so "q49q" can never be part of a random hex token on the page.
TEMPLATE = "q{{7*7}}q{% if 1 %}c{% endif %}${7*7}"
SQL = "Robert'); DROP TABLE registrations; -- \" OR 1=1 /*"
FIELDS = {"field_job_title": "optional", "field_member_id": "optional", "field_organisation": "optional"}


def assert_clear_4xx(response: httpx.Response, *allowed: int) -> None:
    """A deliberate refusal: the expected 4xx, a page or text without a stack trace."""
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text and 'File "' not in response.text


async def healthy(client: httpx.AsyncClient, slug: str) -> None:
    """The app still answers and a normal registration still goes through."""
    assert (await client.get("/healthz")).status_code == 200
    hidden = await open_form(client, slug)
    email = f"still-fine-{next(_counter)}@example.org"
    response = await client.post(f"/events/{slug}/register", data={**person(email=email), **hidden})
    assert response.status_code == 303, response.text[:300]


_counter = itertools.count()


async def post_form(client: httpx.AsyncClient, slug: str, **fields: Any) -> httpx.Response:
    hidden = await open_form(client, slug)
    return await client.post(f"/events/{slug}/register", data={**person(), **hidden, **fields})


async def test_markup_and_template_syntax_come_back_escaped_and_never_run(
    client: httpx.AsyncClient,
    create_event: Callable[..., Awaitable[int]],
    db: DB,
    operator_client: Any,
    settings: Settings,
) -> None:
    await create_event(slug="esc", **FIELDS)
    values = {name: MARKUP for name in ("job_title", "member_id", "organisation")}
    # 1. refused (no consent): the form comes back with what was typed, escaped
    shown = await post_form(client, "esc", first_name=MARKUP, last_name=TEMPLATE, consent_processing="", **values)
    assert_clear_4xx(shown, 422)
    assert MARKUP not in shown.text and "&lt;script&gt;alert(" in shown.text
    assert TEMPLATE.replace('"', "&#34;") in shown.text and "q49q" not in shown.text
    assert await counts(db) == (0, 0, 0)
    # 2. stored verbatim, shown escaped in the back office, escaped in the HTML e-mail, plain in the text one
    assert (await post_form(client, "esc", first_name=MARKUP, last_name=TEMPLATE, **values)).status_code == 303
    [reg] = await registration_rows(db)
    assert (reg["first_name"], reg["last_name"], reg["organisation"]) == (MARKUP, TEMPLATE, MARKUP)
    staff = await operator_client()
    page = await staff.get(f"/admin/events/{reg['event_id']}/registrants/{reg['id']}")
    assert page.status_code == 200 and MARKUP not in page.text and "&lt;script&gt;" in page.text
    assert "q49q" not in page.text and "q{{7*7}}q" in page.text
    [mail] = await outbox_rows(db, settings)
    assert MARKUP not in mail["body_html"] and "q49q" not in mail["body_html"] + mail["body_text"]


async def test_formula_and_sql_metacharacters_are_plain_text(
    client: httpx.AsyncClient, create_event: Callable[..., Awaitable[int]], db: DB, operator_client: Any
) -> None:
    event_id = await create_event(slug="formula", **FIELDS)
    formula = '=HYPERLINK("http://evil.example","click")'
    response = await post_form(client, "formula", first_name=formula, last_name=SQL, organisation="@SUM(A1)")
    assert response.status_code == 303
    [reg] = await registration_rows(db)
    assert (reg["first_name"], reg["last_name"]) == (formula, SQL)  # the table is still there, too
    staff = await operator_client()
    export = await staff.get(f"/admin/events/{event_id}/reports/registered.csv")
    [_header, row] = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff")), delimiter=export.text[6]))
    assert row[1] == "'" + formula and row[5] == "'@SUM(A1)" and row[2] == SQL
    search = await staff.get(f"/admin/events/{event_id}/registrants", params={"q": SQL})
    assert search.status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "Ana\x00"),
        ("last_name", "Pop\r\nBcc: victim@example.org"),
        ("email", "ana@example.org\r\nBcc: victim@example.org"),
        ("email", "ana\x00@example.org"),
        ("organisation", "Acme\u202egnp.exe"),  # right-to-left override
        ("job_title", "Boss\u2066hidden\u2069"),  # bidi isolates
        ("first_name", "x" * 100_000),
        ("email", "a" * 100_000 + "@example.org"),
        ("organisation", "\x1b[31mred"),
        ("first_name", "Ana\u2028URGENT: log in at https://evil.example"),  # a line separator
        ("last_name", "Pop\u2029Ionescu"),  # a paragraph separator (trimmed at either end, like any space)
    ],
)
async def test_control_characters_and_huge_fields_are_422_and_store_nothing(
    client: httpx.AsyncClient, create_event: Callable[..., Awaitable[int]], db: DB, field: str, value: str
) -> None:
    await create_event(slug="ctl", **FIELDS)
    response = await post_form(client, "ctl", **{field: value})
    assert_clear_4xx(response, 422)
    assert await counts(db) == (0, 0, 0)
    await healthy(client, "ctl")


async def test_nul_anywhere_in_a_request_is_refused_not_a_database_error(
    client: httpx.AsyncClient, create_event: Callable[..., Awaitable[int]], db: DB, operator_client: Any
) -> None:
    event_id = await create_event(slug="nul", **FIELDS)
    assert_clear_4xx(await client.get("/events/nul%00x"), 400, 404)
    assert_clear_4xx(await client.get("/events/nul", params={"lang": "ro\x00"}), 400)
    token = await csrf_for(client, "/admin/login")
    login = await client.post("/admin/login", data={"email": "a\x00@example.org", "password": "x", "csrf_token": token})
    assert_clear_4xx(login, 400, 422)
    hidden = await open_form(client, "nul")
    link = await client.post("/events/nul/send-link", data={"email": "a\x00@example.org", **hidden})
    assert_clear_4xx(link, 400, 422)
    staff = await operator_client()
    assert_clear_4xx(await staff.get(f"/admin/events/{event_id}/registrants", params={"q": "x\x00"}), 400)
    assert await counts(db) == (0, 0, 0)
    await healthy(client, "nul")


async def test_header_injection_through_a_name_adds_no_header_to_the_email(
    client: httpx.AsyncClient,
    create_event: Callable[..., Awaitable[int]],
    db: DB,
    smtp_server: Any,
    smtp_settings: Settings,
) -> None:
    await create_event(slug="hdr", **FIELDS)
    # U+2028/U+2029 and U+0085 are line breaks to some software; they must not become header lines either.
    sneaky = "Ana\u2028Bcc: victim@example.org\u2029X-Evil: 1"
    assert (await post_form(client, "hdr", first_name=sneaky, email="ana@example.org")).status_code == 422
    assert (await post_form(client, "hdr", last_name="Pop\u0085Bcc: victim@example.org")).status_code == 422
    await deliver_due(smtp_settings, db, compose_queued)
    for mail in smtp_server.messages:
        assert mail.rcpt_tos == ["ana@example.org"]
        assert mail.message["Bcc"] is None and mail.message["X-Evil"] is None


async def test_oversized_and_malformed_bodies_are_refused(
    client: httpx.AsyncClient, create_event: Callable[..., Awaitable[int]], db: DB
) -> None:
    await create_event(slug="big", **FIELDS)
    hidden = await open_form(client, "big")
    ten_mb = b"first_name=" + b"x" * (10 * 1024 * 1024)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_clear_4xx(await client.post("/events/big/register", content=ten_mb, headers=form), 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(10):
            yield b"x" * (1024 * 1024)

    # Refused while reading, as soon as one field passes the per-field limit (400) or the body the body limit (413).
    assert_clear_4xx(await client.post("/events/big/register", content=chunks(), headers=form), 400, 413)
    many = "&".join(f"f{i}=v" for i in range(5000)) + "&" + "&".join(f"{k}={v}" for k, v in hidden.items())
    assert_clear_4xx(await client.post("/events/big/register", content=many, headers=form), 400, 413)
    multipart_many = {f"f{i}": "v" for i in range(5000)} | hidden
    assert_clear_4xx(await client.post("/events/big/register", files={"x": ("a", b"")}, data=multipart_many), 400)
    garbage = {"Content-Type": "multipart/form-data; boundary=xyz"}
    assert_clear_4xx(await client.post("/events/big/register", content=b"--xyz\r\nnonsense", headers=garbage), 400, 403)
    no_boundary = {"Content-Type": "multipart/form-data"}
    assert_clear_4xx(await client.post("/events/big/register", content=b"a=b", headers=no_boundary), 400, 403)
    a_file = await client.post("/events/big/register", data={**person(), **hidden}, files={"cv": ("cv.pdf", b"%PDF")})
    assert_clear_4xx(a_file, 400)
    bad_length = {**form, "Content-Length": "-1"}
    assert_clear_4xx(await client.post("/events/big/register", content=b"", headers=bad_length), 400)
    assert await counts(db) == (0, 0, 0)
    await healthy(client, "big")


async def test_repeated_parameters_and_mass_assignment_are_ignored(
    client: httpx.AsyncClient, create_event: Callable[..., Awaitable[int]], db: DB, create_organisation: Any
) -> None:
    event_id = await create_event(slug="manual", approval="manual", **FIELDS)
    other_org = await create_organisation()
    other_event = await create_event(slug="other")
    hidden = await open_form(client, "manual")
    fields = [*person(email="first@example.org").items(), ("email", "second@example.org"), *hidden.items()]
    fields += [
        ("status", "approved"), ("organisation_id", str(other_org)), ("event_id", str(other_event)),
        ("id", "1"), ("token_version", "99"), ("password_hash", "x"), ("erased_at", "2020-01-01"),
        ("decided_by", "1"), ("marketing_opt_in", "true"), ("language", "xx"),
    ]  # fmt: skip
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/events/manual/register", content=urlencode(fields), headers=form)
    assert response.status_code == 303
    [reg] = await registration_rows(db)
    assert (reg["status"], reg["event_id"], reg["token_version"]) == ("pending", event_id, 1)
    assert reg["email"] in ("first@example.org", "second@example.org")
    assert reg["password_hash"] is None and reg["erased_at"] is None and reg["decided_by"] is None
    assert reg["marketing_opt_in"] is False and reg["language"] == "en"  # the page's language, not the posted "xx"


async def test_cross_site_origin_and_missing_or_foreign_csrf_are_refused(
    client: httpx.AsyncClient, create_event: Callable[..., Awaitable[int]], db: DB
) -> None:
    await create_event(slug="xsite", **FIELDS)
    hidden = await open_form(client, "xsite")
    for origin in ("https://evil.example", "null", "http://testserver.evil.example"):
        refused = await client.post("/events/xsite/register", data={**person(), **hidden}, headers={"Origin": origin})
        assert_clear_4xx(refused, 403)
    assert_clear_4xx(await client.post("/events/xsite/register", data=person()), 403)
    foreign = {**hidden, "csrf_token": "é" * 64}  # not even ASCII
    assert_clear_4xx(await client.post("/events/xsite/register", data={**person(), **foreign}), 403)
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as stranger:
        theirs = await open_form(stranger, "xsite")  # a token valid for another browser's cookie
    assert_clear_4xx(await client.post("/events/xsite/register", data={**person(), **theirs}), 403)
    assert_clear_4xx(await client.put("/events/xsite/register", data=person()), 405)
    assert await counts(db) == (0, 0, 0)
    await healthy(client, "xsite")


async def test_tampered_and_replayed_cookies_get_the_login_page(
    client: httpx.AsyncClient, create_staff: Any, create_event: Callable[..., Awaitable[int]]
) -> None:
    await create_event(slug="cookie", **FIELDS)
    user = await create_staff("operator")
    assert (await login_staff(client, user.email)).status_code == 303
    good = client.cookies.get(COOKIE_NAME)
    assert good and (await client.get("/admin/")).status_code == 200
    for bad in (good[:-3] + "abc", "x" * 4000, "%%%;;", good.split(".")[0], "." + good):
        client.cookies.set(COOKIE_NAME, bad)
        response = await client.get("/admin/")
        assert response.status_code in (302, 303, 307) and "/admin/login" in response.headers["location"]
    client.cookies.set(COOKIE_NAME, good)
    dashboard = await client.get("/admin/")
    logout = await client.post("/admin/logout", data={"csrf_token": csrf_from(dashboard.text)})
    assert dashboard.status_code == 200 and logout.status_code == 303
    client.cookies.set(COOKIE_NAME, good)  # replayed after logout
    replay = await client.get("/admin/")
    assert replay.status_code in (302, 303, 307) and "/admin/login" in replay.headers["location"]
    await healthy(client, "cookie")


async def test_tokens_of_the_wrong_purpose_or_shape_do_not_let_anyone_in(
    client: httpx.AsyncClient,
    settings: Settings,
    db: DB,
    create_event: Callable[..., Awaitable[int]],
    create_registration: Callable[..., Awaitable[int]],
) -> None:
    event = await load_event(db, await create_event(**on_now(slug="tok")))
    reg = await create_registration(event.id)
    wrong = make_token(str(settings.secret_key), UNSUBSCRIBE, reg, 1, event.join_link_expires_at)
    for token in (wrong, "x" * 5000, "..%2f..%2fetc%2fpasswd", "W1sxXQ.bad", join_path(settings, event, reg)[-20:]):
        response = await client.get(f"/events/tok/join/{token}")
        assert_clear_4xx(response, 400, 403, 404)
        assert client.cookies.get(COOKIE_NAME) is None or (await client.get("/events/tok/watch")).status_code != 200
    assert (await client.get(join_path(settings, event, reg))).status_code == 303  # the real one still works


async def test_spoofed_forwarded_for_is_ignored_without_a_trusted_proxy(
    client: httpx.AsyncClient, create_event: Callable[..., Awaitable[int]], db: DB
) -> None:
    from webinar.settings import Settings

    threshold = Settings.pow_threshold  # then a proof of work is asked for (SPEC §15)

    await create_event(slug="xff", **FIELDS)
    hidden = await open_form(client, "xff")
    statuses = []
    for i in range(threshold + 1):
        spoof = {"X-Forwarded-For": f"203.0.113.{i + 1}", "X-Real-IP": f"198.51.100.{i + 1}"}
        response = await client.post(
            "/events/xff/register", data={**person(email=f"p{i}@example.org"), **hidden}, headers=spoof
        )
        statuses.append(response.status_code)
    assert statuses == [303] * threshold + [422]  # one client, whatever it claims
    from webinar.tables import consent_records

    async with db.connection() as conn:
        assert {row["ip"] for row in await conn.fetch_all(consent_records.select())} == {"127.0.0.1"}


@pytest.mark.parametrize(
    "path",
    [
        "/static/../webinar/settings.py",
        "/static/%2e%2e/webinar/settings.py",
        "/static/..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e%2f%2e%2e%2fvar/secret_key",
        "/static/css/../../pyproject.toml",
        "/static//etc/passwd",
    ],
)
async def test_path_traversal_under_static_finds_nothing(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert_clear_4xx(response, 404, 400)
    assert "SECRET" not in response.text and "root:" not in response.text and "[project]" not in response.text


# A registration form filled with anything at all: never a 500; a refusal stores nothing.
any_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300)
fuzzed = st.fixed_dictionaries(
    {
        name: st.one_of(any_text, st.sampled_from(["", "Ana", "ana@example.org", "=1+1", "\x00", "{{7*7}}"]))
        for name in ("first_name", "last_name", "email", "job_title", "member_id", "organisation", "phone")
    }
    | {"consent_processing": st.sampled_from(["on", ""]), "age_confirmed": st.sampled_from(["on", ""])}
)
_fuzz_ips = itertools.count(1)


@pytest.fixture
async def fuzz_event(create_event: Callable[..., Awaitable[int]]) -> str:
    await create_event(slug="fuzz", field_phone="optional", **FIELDS)
    return "fuzz"


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=fuzzed)
async def test_fuzzed_registration_is_303_or_422_and_a_422_stores_nothing(
    app: Starlette, db: DB, fuzz_event: str, data: dict[str, str]
) -> None:
    n = next(_fuzz_ips)
    transport = httpx.ASGITransport(app=app, client=(f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:  # its own address
        hidden = await open_form(http, fuzz_event)
        before = await counts(db)
        response = await http.post(f"/events/{fuzz_event}/register", data={**data, **hidden})
    assert response.status_code in (303, 422), (response.status_code, data)
    assert "Traceback" not in response.text
    if response.status_code == 422:
        assert await counts(db) == before
