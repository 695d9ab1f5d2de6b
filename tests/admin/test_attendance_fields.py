"""The event form's attendance fields (SPEC §13): threshold, presence checks, replay; bad input is a 422 beside the
field with nothing stored."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
import sqlalchemy as sa

from tests.admin.test_events import event_form
from tests.conftest import csrf_for
from webinar.events import queries as event_queries
from webinar.tables import events


async def _post_new(http, organisation_id: int, /, **overrides: Any):
    token = await csrf_for(http, "/admin/events/new")
    return await http.post("/admin/events", data={**event_form(organisation_id, **overrides), "csrf_token": token})


def error_of(page: str, field: str) -> str:
    """The message shown beside one field (its `…-error` paragraph), or '' when there is none."""
    match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page)
    return html.unescape(match.group(1)) if match else ""


async def test_the_attendance_fields_are_stored_and_shown_again(operator_client, db, create_organisation) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    response = await _post_new(
        http, org_id, slug="emc", attendance_minutes="120", presence_checks="6",
        replay_url="https://video.example.org/replay/index.m3u8", replay_until="2030-03-20",
    )  # fmt: skip
    assert response.status_code == 303, error_of(response.text, "replay_until") or response.text[:300]
    async with db.connection() as conn:
        event = await event_queries.by_slug(conn, "emc")
    assert event is not None
    assert event.attendance_minutes == 120 and event.presence_checks == 6
    assert event.replay_url == "https://video.example.org/replay/index.m3u8" and event.replay_is_hls
    # The last day's end in Bucharest (EET, UTC+2 in March): midnight of the 21st, 22:00 UTC on the 20th.
    assert event.replay_until == dt.datetime(2030, 3, 20, 22, 0, tzinfo=dt.UTC)
    # The replay needs the join link: it lasts until the replay ends when that is later than a week after the end.
    assert event.join_link_expires_at == event.replay_until
    edit = await http.get(f"/admin/events/{event.id}/edit")
    assert 'name="attendance_minutes" type="number" value="120"' in edit.text
    assert 'name="presence_checks" type="number" value="6"' in edit.text
    assert 'name="replay_until" type="date" value="2030-03-20"' in edit.text
    page = await http.get(f"/admin/events/{event.id}")
    assert "at least 120 minutes watched live" in page.text and "6 presence checks, every one answered" in page.text
    assert f"/admin/events/{event.id}/reports/attendance.csv" in page.text


async def test_empty_fields_mean_no_threshold_no_checks_no_replay(operator_client, db, create_organisation) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    response = await _post_new(http, org_id, slug="plain", attendance_minutes="", presence_checks="", replay_url="")
    assert response.status_code == 303
    async with db.connection() as conn:
        event = await event_queries.by_slug(conn, "plain")
    assert event is not None
    assert (event.attendance_minutes, event.presence_checks, event.replay_url, event.replay_until) == (
        None,
        0,
        "",
        None,
    )
    assert not event.has_replay and event.join_link_expires_at == event.ends_at + dt.timedelta(days=7)


# The event of the form lasts 150 minutes (14:00–16:30).
BAD = [
    (
        {"attendance_minutes": "151"},
        "attendance_minutes",
        "The event lasts 150 minutes: the threshold cannot be longer.",
    ),
    ({"attendance_minutes": "-5"}, "attendance_minutes", "Enter a whole number from 0 to 100000."),
    ({"attendance_minutes": "1.5"}, "attendance_minutes", "Enter a whole number from 0 to 100000."),
    ({"presence_checks": "21"}, "presence_checks", "Enter a whole number from 0 to 20."),
    ({"presence_checks": "-1"}, "presence_checks", "Enter a whole number from 0 to 20."),
    ({"presence_checks": "9" * 40}, "presence_checks", "Enter a whole number from 0 to 20."),
    (
        {"presence_checks": "5", "ends_at": "2030-03-05T14:20", "registration_closes_at": ""},
        "presence_checks",
        "At most 4 checks fit in this event (one per 5 minutes of the live window).",
    ),
    (
        {"replay_url": "ftp://video.example.org/replay.m3u8", "replay_until": "2030-03-20"},
        "replay_url",
        "The address must start with https://.",
    ),
    ({"replay_url": "javascript:alert(1)", "replay_until": "2030-03-20"}, "replay_url", "Enter a valid address."),
    ({"replay_url": "https://video.example.org/r"}, "replay_until", "Give the last day on which the replay can be"),
    ({"replay_until": "2030-03-20"}, "replay_url", "Give the replay's address, or leave its last day empty."),
    (
        {"replay_url": "https://video.example.org/r", "replay_until": "2030-03-04"},
        "replay_until",
        "The replay must stay available after the event ends.",
    ),
    ({"replay_url": "https://video.example.org/r", "replay_until": "20.03.2030"}, "replay_until", "YYYY-MM-DD"),
    ({"replay_url": "https://video.example.org/r", "replay_until": "2030-02-30"}, "replay_until", "does not exist"),
]


@pytest.mark.parametrize(("overrides", "field", "message"), BAD)
async def test_bad_attendance_input_is_422_beside_the_field_and_nothing_stored(
    operator_client, db, create_organisation, overrides, field, message
) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    response = await _post_new(http, org_id, **overrides)
    assert response.status_code == 422
    assert message in error_of(response.text, field)
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(events)) == 0


async def test_an_edit_with_a_bad_threshold_changes_nothing(operator_client, db, create_event) -> None:
    event_id = await create_event(attendance_minutes=60)
    http = await operator_client()
    async with db.connection() as conn:
        event = await event_queries.by_id(conn, event_id)
    assert event is not None
    token = await csrf_for(http, f"/admin/events/{event_id}/edit")
    form = event_form(event.organisation_id, slug=event.slug, attendance_minutes="999")
    response = await http.post(f"/admin/events/{event_id}", data={**form, "csrf_token": token})
    assert response.status_code == 422
    assert "the threshold cannot be longer" in error_of(response.text, "attendance_minutes")
    async with db.connection() as conn:
        again = await event_queries.by_id(conn, event_id)
    assert again == event
