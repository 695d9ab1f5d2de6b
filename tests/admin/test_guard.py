"""Deny by default: every route of the real app is enumerated, and each /admin one is guarded unless declared public."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, Router, WebSocketRoute

from admin import routes as admin_routes
from admin.auth import StaffGuard
from reports.routes import routes as report_routes
from tests.conftest import csrf_for, login_staff
from tests.webinar.access_helpers import join, load_event, on_now
from webinar.api import tokens as api_tokens
from webinar.clock import now
from webinar.mail import outbox as mail_outbox
from webinar.tables import certificates
from webinar.webhooks import subscriptions as webhook_subscriptions

# Changing this set is a decision: a route named here is open to anyone on the internet.
# login_code (the second step of a two-factor login) answers only to the signed token a right password gave.
EXPECTED_PUBLIC = {
    "login_form",
    "login",
    "login_code",
    "logout",
    "password_reset_ask_form",
    "password_reset_ask",
    "password_reset_form",
    "password_reset",
}


@dataclass(frozen=True)
class Case:
    """One method of one route under /admin, with a path built from real ids."""

    name: str
    method: str
    path: str
    params: frozenset[str]


def walk(routes: list[BaseRoute], prefix: str = "", mount: str = "") -> Iterator[tuple[str, str, BaseRoute]]:
    """Every leaf route of the app as (mount name, full path format, route), through every Mount."""
    for route in routes:
        if isinstance(route, Mount):
            yield from walk(route.routes, prefix + route.path, route.name or "")
        elif isinstance(route, Route | WebSocketRoute):
            yield mount, prefix + route.path_format, route
        else:
            raise AssertionError(f"the enumeration does not know {route!r}: teach it, so nothing goes unchecked")


def admin_cases(app: Starlette, values: dict[str, Any]) -> list[Case]:
    """One case per method of every route of the admin Mount, its parameters filled from `values`."""
    cases = []
    for mount, _, route in walk(app.routes):
        if mount != "admin":
            continue
        assert isinstance(route, Route), f"{route!r}: a WebSocket under /admin needs its own guard test"
        missing = set(route.param_convertors) - set(values)
        assert not missing, f"{route.name}: give the test a real value for {missing}"
        params = {key: values[key] for key in route.param_convertors}
        path = app.url_path_for(f"admin:{route.name}", **params)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            cases.append(Case(route.name, method, path, frozenset(params)))
    return cases


def guard_redirect(response: httpx.Response, path: str) -> bool:
    """Whether this is the guard's answer: a 303 to the login page that comes back to `path`."""
    if response.status_code != 303:
        return False
    location = urlsplit(response.headers["location"])
    return location.path == "/admin/login" and parse_qs(location.query) == {"next": [path]}


async def send(http: httpx.AsyncClient, case: Case, token: str) -> httpx.Response:
    """The request of a case; unsafe methods carry a valid CSRF token of the client's own session."""
    if case.method == "GET":
        return await http.get(case.path)
    return await http.request(case.method, case.path, data={"csrf_token": token})


@asynccontextmanager
async def browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser, with cookies of its own."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def valid_token(http: httpx.AsyncClient) -> str:
    """A CSRF token of this client's session, checked to pass: a bad login with it is a 400, not the CSRF 403."""
    token = await csrf_for(http, "/admin/login")
    refused = await http.post("/admin/login", data={"email": "x@example.org", "password": "x", "csrf_token": token})
    assert refused.status_code == 400, refused.status_code
    return token


@pytest.fixture
async def values(db, create_organisation, create_event, create_registration, create_staff) -> dict[str, Any]:
    """Real objects of one organisation, named by the route parameters that point at them."""
    organisation_id = await create_organisation()
    event_id = await create_event(organisation_id=organisation_id, **on_now())
    colleague = await create_staff("organiser", organisation_id)
    async with db.transaction() as conn:
        message_id = await mail_outbox.enqueue(
            conn, kind="confirmation", to_address="ana@example.org", subject="Confirmare", body_text="Salut",
            body_html="<p>Salut</p>", mail_from="Webinar <no-reply@webinar.test>",
        )  # fmt: skip
    registration_id = await create_registration(event_id)
    async with db.transaction() as conn:
        certificate_id = await conn.fetch_val(
            certificates.insert()
            .values(
                event_id=event_id, registration_id=registration_id, sequence=1, number="S-1-ABCDEFGH",
                full_name="Ana Pop", minutes=60, issued_at=now(),
            )
            .returning(certificates.c.id)
        )  # fmt: skip
    async with db.transaction() as conn:
        await api_tokens.create(conn, organisation_id, "CRM", actor="test")
        [token] = await api_tokens.of_organisation(conn, organisation_id)
        subscription = await webhook_subscriptions.create(
            conn, organisation_id, "https://example.org/hooks", ["registration.created"], "test", None
        )
    return {
        "organisation_id": organisation_id,
        "token_id": token.id,
        "subscription_id": subscription.id,
        "event_id": event_id,
        "registration_id": registration_id,
        "user_id": colleague.id,
        "message_id": message_id,
        "certificate_id": certificate_id,
        "report": "registered",
        "fmt": "csv",
        "token": "not-a-reset-token",
    }


def guarded(cases: list[Case]) -> list[Case]:
    return [case for case in cases if case.name not in EXPECTED_PUBLIC]


async def test_the_enumeration_covers_every_route_of_the_table(app: Starlette, values) -> None:
    cases = admin_cases(app, values)
    names = {case.name for case in cases}
    table = [route for route in [*admin_routes.admin_routes, *report_routes] if isinstance(route, Route)]
    assert len(names) == len(table)
    assert names == {route.name for route in table}
    assert len(cases) == sum(len((route.methods or set()) - {"HEAD"}) for route in table)
    assert admin_routes.PUBLIC == EXPECTED_PUBLIC


async def test_anonymous_visitors_get_the_login_page_everywhere_but_the_public_routes(app, client, values) -> None:
    token = await valid_token(client)
    cases = admin_cases(app, values)
    let_through = set()
    for case in cases:
        if not guard_redirect(await send(client, case, token), case.path):
            let_through.add(f"{case.method} {case.name}")
    assert let_through == {f"{case.method} {case.name}" for case in cases if case.name in EXPECTED_PUBLIC}


async def test_an_attendee_session_is_not_staff(app, client, db, settings, values) -> None:
    event = await load_event(db, values["event_id"])
    await join(client, settings, event, values["registration_id"])
    token = await valid_token(client)
    wrong = []
    for case in guarded(admin_cases(app, values)):
        response = await send(client, case, token)
        if not guard_redirect(response, case.path):
            wrong.append(f"{case.method} {case.path}: {response.status_code}")
    assert wrong == []
    assert (await client.get(f"/events/{event.slug}/watch")).status_code == 200  # still that attendee, all along


async def test_an_organiser_of_another_organisation_gets_404(app, client, values, create_organisation, create_staff):
    stranger = await create_staff("organiser", await create_organisation())
    assert (await login_staff(client, stranger.email)).status_code == 303
    token = await csrf_for(client, "/admin/")
    wrong = []
    for case in guarded(admin_cases(app, values)):
        if case.name not in admin_routes.OPERATOR_ONLY | admin_routes.EVENT_EDITING and not case.params & {
            "event_id",
            "registration_id",
            "organisation_id",
        }:
            continue  # their own dashboard, audit log and language: tested in test_tenancy and test_audit
        response = await send(client, case, token)
        if response.status_code != 404:
            wrong.append(f"{case.method} {case.path}: {response.status_code}")
    assert wrong == []


async def test_an_operator_opens_every_guarded_page_with_those_ids(app, operator_client, values) -> None:
    http = await operator_client()
    wrong = []
    for case in guarded(admin_cases(app, values)):
        if case.method == "GET" and (response := await http.get(case.path)).status_code != 200:
            wrong.append(f"{case.path}: {response.status_code}")
    assert wrong == []  # so the 404s above are the guard and the tenancy rule, not ids that do not exist


async def never_reached(request: Any) -> PlainTextResponse:
    return PlainTextResponse("open")


async def test_a_new_route_is_guarded_unless_someone_marks_it_public(app: Starlette, client) -> None:
    mount = next(route for route in app.routes if isinstance(route, Mount) and route.name == "admin")
    mount.routes.append(Route("/brand-new", never_reached, name="brand_new"))
    response = await client.get("/admin/brand-new")
    assert guard_redirect(response, "/admin/brand-new") and "open" not in response.text
    assert guard_redirect(await client.get("/admin/no-such-page"), "/admin/no-such-page")


def test_a_misspelt_name_in_the_access_table_stops_the_app() -> None:
    router = Router(routes=list(admin_routes.admin_routes))
    with pytest.raises(ValueError, match="logn"):
        StaffGuard(router, public=frozenset({"logn"}), operator_only=admin_routes.OPERATOR_ONLY)
    with pytest.raises(ValueError, match="users"):
        StaffGuard(router, public=frozenset({"users"}), operator_only=admin_routes.OPERATOR_ONLY)
