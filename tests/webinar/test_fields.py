"""Every declared personal field (registration/fields.py) reaches each place a registration's data goes, and leaves
with an erasure: the tests walk FIELDS, so a field declared there is tested here without a line more."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po
from starlette.applications import Starlette

from reports.exporters import EXPORTERS
from reports.queries import SessionRow
from tests.conftest import csrf_for, login_staff
from tests.reports.conftest import parse_csv
from tests.webinar.privacy_helpers import register_and_join, registration
from webinar import i18n
from webinar.events.queries import EventFields
from webinar.registration import fields
from webinar.registration.fields import CONFIGURABLE, FIELDS, HIDDEN, OPTIONAL, REQUIRED, PersonalField
from webinar.registration.forms import PersonalDetails
from webinar.registration.queries import Registration
from webinar.tables import events, registrations

CATALOGUE = i18n.LOCALE_DIR / "ro" / "LC_MESSAGES" / "messages.po"


def sample(field: PersonalField) -> str:
    """A value that passes the field's declared rules and is told apart from every other field's on a page."""
    candidates = (f"Ștefania {field.name}", f"{field.name.replace('_', '.')}@example.org", "0721 000 111")
    for value in candidates:  # no leading + - = @: a CSV cell shows it as it is
        if field.problem(value, required=True) is None:
            return value
    raise AssertionError(f"no sample value passes the rules of {field.name}: add a candidate here")


def modes(field: PersonalField) -> list[str]:
    return [REQUIRED, OPTIONAL, HIDDEN] if field.configurable else [REQUIRED]


def input_tag(page: str, field: PersonalField) -> str | None:
    """The field's <input> element on a page, if it is there."""
    match = re.search(rf'<input id="{field.name}" name="{field.name}"[^>]*>', page, re.S)
    return match.group(0) if match else None


def every_field_asked() -> dict[str, str]:
    """Event columns asking every configurable field."""
    return {f.mode_column: OPTIONAL for f in CONFIGURABLE}


def on_page(page: str, value: str) -> bool:
    return html.escape(value) in page or value in page


BY_FIELD = pytest.mark.parametrize("field", FIELDS, ids=[f.name for f in FIELDS])


@pytest.fixture
async def staff(app: Starlette, create_staff: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An operator's browser, with cookies of its own (the attendee keeps theirs)."""
    user = await create_staff("operator")
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await login_staff(http, user.email)).status_code == 303
        yield http


@BY_FIELD
def test_a_declaration_matches_the_schema_and_the_typed_records(field: PersonalField) -> None:
    assert field.name in registrations.c and registrations.c[field.name].nullable  # erasure writes NULL
    assert field.name in {f.name for f in dataclasses.fields(Registration)}
    assert field.name in {f.name for f in dataclasses.fields(PersonalDetails)}
    assert set(field.reports) <= set(EXPORTERS)
    if fields.TRAFFIC in field.reports:
        assert field.name in {f.name for f in dataclasses.fields(SessionRow)}
    if field.configurable:
        assert field.mode_column in events.c and field.mode_column in {f.name for f in dataclasses.fields(EventFields)}
        assert field.default_mode in (REQUIRED, OPTIONAL, HIDDEN) and field.mode_label
    assert field.personal  # every field declared today is personal data; erasure relies on the flag


@BY_FIELD
def test_a_declared_label_is_translated_into_romanian(field: PersonalField) -> None:
    with CATALOGUE.open("rb") as fh:
        catalogue = read_po(fh, locale="ro")
    for label in filter(None, (field.label, field.staff_label, field.mode_label, field.missing)):
        message = catalogue.get(label)
        assert message is not None and message.string, f"{label!r} has no Romanian translation"


def test_the_registered_report_heads_its_columns_as_spec_5_says() -> None:
    assert fields.headers(fields.REGISTERED) == (
        "Email", "First name", "Last name", "Job title", "Member ID", "Organisation", "Phone",
    )  # fmt: skip
    assert fields.headers(fields.ACTIVE) == ("Email", "First name", "Last name", "Organisation")
    assert fields.headers(fields.TRAFFIC) == ("Email", "First name", "Last name")


@pytest.mark.parametrize(
    ("field", "mode"),
    [(f, m) for f in FIELDS for m in modes(f)],
    ids=[f"{f.name}-{m}" for f in FIELDS for m in modes(f)],
)
async def test_the_public_form_asks_a_field_as_its_event_says(
    client: httpx.AsyncClient, create_event: Callable[..., Awaitable[int]], field: PersonalField, mode: str
) -> None:
    choice = {field.mode_column: mode} if field.configurable else {}
    await create_event(slug="ask", **({f.mode_column: HIDDEN for f in CONFIGURABLE} | choice))
    page = (await client.get("/events/ask")).text
    tag = input_tag(page, field)
    if mode == HIDDEN:
        assert tag is None and f'name="{field.name}"' not in page
        return
    assert tag is not None, f"no input for {field.name}"
    assert f'type="{field.input_type}"' in tag and f'maxlength="{field.max_length}"' in tag
    assert (" required" in tag) == (mode == REQUIRED)
    with i18n.use("en"):
        assert f'<label for="{field.name}">{html.escape(field.title())}' in page


async def _erase(client: httpx.AsyncClient, slug: str) -> None:
    token = await csrf_for(client, f"/events/{slug}/me/erase")
    response = await client.post(f"/events/{slug}/me/erase", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"].endswith("/me/erased")


def _cell(rows: list[list[str]], header: str, row: int = 1) -> str:
    return rows[row][rows[0].index(header)]


@BY_FIELD
async def test_a_field_reaches_every_place_and_leaves_with_the_erasure(
    client: httpx.AsyncClient,
    staff: httpx.AsyncClient,
    db: Any,
    settings: Any,
    create_event: Callable[..., Awaitable[int]],
    create_viewing_session: Callable[..., Awaitable[int]],
    field: PersonalField,
) -> None:
    value = sample(field)
    submitted = {f.name: sample(f) for f in FIELDS}
    event, reg = await register_and_join(client, db, settings, await create_event(**every_field_asked()), **submitted)
    start = event.starts_at + dt.timedelta(minutes=1)
    await create_viewing_session(event.id, reg, start, start + dt.timedelta(minutes=20))
    reports = f"/admin/events/{event.id}/reports"

    assert (await registration(db, reg))[field.name] == value  # stored, through the real form
    me = (await client.get(f"/events/{event.slug}/me")).text
    assert on_page(me, value) and input_tag(me, field) is not None  # shown, and in the correction form
    exported = (await client.get(f"/events/{event.slug}/me/export.json")).json()
    assert exported["registration"][field.name] == value
    admin_page = (await staff.get(f"/admin/events/{event.id}/registrants/{reg}")).text
    with i18n.use("en"):
        label = html.escape(field.staff_title())
    assert on_page(admin_page, value) and (field.name_part or f'<th scope="row">{label}</th>' in admin_page)
    for report in field.reports:
        rows = parse_csv(await staff.get(f"{reports}/{report}.csv"))
        assert _cell(rows, field.header) == value, report

    await _erase(client, event.slug)

    assert (await registration(db, reg))[field.name] is None
    assert not on_page((await staff.get(f"/admin/events/{event.id}/registrants/{reg}")).text, value)
    assert len(parse_csv(await staff.get(f"{reports}/registered.csv"))) == 1  # the header only
    traffic = parse_csv(await staff.get(f"{reports}/traffic.csv"))
    assert len(traffic) == 2 and (fields.TRAFFIC not in field.reports or _cell(traffic, field.header) == "")
    assert (await client.get(f"/events/{event.slug}/me/export.json")).status_code == 303  # nothing to download


@pytest.mark.parametrize("field", [f for f in FIELDS if not f.identifies], ids=lambda f: f.name)
async def test_a_field_is_corrected_on_me_by_its_declared_rules(
    client: httpx.AsyncClient, db: Any, settings: Any, create_event: Callable[..., Awaitable[int]], field: PersonalField
) -> None:
    submitted = {f.name: sample(f) for f in FIELDS}
    event, reg = await register_and_join(client, db, settings, await create_event(**every_field_asked()), **submitted)
    me = f"/events/{event.slug}/me"
    form = {**submitted, "csrf_token": await csrf_for(client, me)}
    refused = await client.post(me, data={**form, field.name: "x" * (field.max_length + 1)})
    assert refused.status_code == 422 and (await registration(db, reg))[field.name] == submitted[field.name]
    corrected = sample(field).replace("111", "222").replace("Ștefania", "Ioana")
    saved = await client.post(me, data={**form, field.name: corrected})
    assert saved.status_code == 303 and (await registration(db, reg))[field.name] == corrected
