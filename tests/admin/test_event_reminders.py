"""The event form's reminders and follow-up (SPEC §12): stored as given, shown again, and bad input is a 422 beside
the field with nothing stored."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from tests.admin.test_events import _post_new, event_form
from tests.conftest import csrf_for
from webinar.events import queries as event_queries
from webinar.tables import events


async def _stored(db, slug: str):
    async with db.connection() as conn:
        return await event_queries.by_slug(conn, slug)


async def test_the_new_event_form_offers_the_defaults_and_stores_what_is_given(
    operator_client, db, create_organisation
) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    page = await http.get("/admin/events/new")
    assert 'name="reminders" type="text" value="1440,60"' in page.text
    assert 'name="followup_after_minutes" type="number" value="60"' in page.text
    response = await _post_new(http, org_id, slug="r1", reminders=" 60, 10080,5 ", followup_after_minutes="120")
    assert response.status_code == 303
    event = await _stored(db, "r1")
    assert (event.reminders, event.reminder_offsets, event.followup_after_minutes) == (
        "10080,60,5",
        (10080, 60, 5),
        120,
    )
    edit = await http.get(f"/admin/events/{event.id}/edit")
    assert 'value="10080,60,5"' in edit.text and 'name="followup_after_minutes" type="number" value="120"' in edit.text


async def test_empty_means_no_reminders_and_no_follow_up(operator_client, db, create_organisation) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    response = await _post_new(http, org_id, slug="quiet", reminders="", followup_after_minutes="")
    assert response.status_code == 303
    event = await _stored(db, "quiet")
    assert (event.reminders, event.reminder_offsets, event.followup_after_minutes) == ("", (), None)


BAD = [
    ({"reminders": "1440;60"}, "reminders", "Enter minutes before the start as whole numbers separated by commas"),
    ({"reminders": "1 day"}, "reminders", "Enter minutes before the start as whole numbers separated by commas"),
    ({"reminders": "60,-5"}, "reminders", "Enter minutes before the start as whole numbers separated by commas"),
    ({"reminders": "60,,30"}, "reminders", "Enter minutes before the start as whole numbers separated by commas"),
    ({"reminders": "0"}, "reminders", "Each reminder must be from 1 to 86400 minutes (60 days) before the start."),
    ({"reminders": "86401"}, "reminders", "Each reminder must be from 1 to 86400 minutes"),
    ({"reminders": "60,1440,060"}, "reminders", "Each reminder once: 60 is given twice."),
    ({"reminders": ",".join(str(n) for n in range(1, 12))}, "reminders", "At most 10 reminders."),
    ({"followup_after_minutes": "-1"}, "followup_after_minutes", "Enter a whole number from 0 to 10080."),
    ({"followup_after_minutes": "a week"}, "followup_after_minutes", "Enter a whole number from 0 to 10080."),
]


@pytest.mark.parametrize(("overrides", "field", "message"), BAD)
async def test_bad_reminders_are_a_422_beside_the_field_and_nothing_is_stored(
    operator_client, db, create_organisation, overrides, field, message
) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    response = await _post_new(http, org_id, slug="bad", **overrides)
    assert response.status_code == 422
    page = html.unescape(response.text)
    error = page.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert f'value="{overrides[field]}"' in page  # what was typed stays
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(events)) == 0


async def test_editing_the_reminders_of_an_event(operator_client, db, create_organisation, create_event) -> None:
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id)
    http = await operator_client()
    token = await csrf_for(http, f"/admin/events/{event_id}/edit")
    form = event_form(org_id, slug="edited", reminders="30", followup_after_minutes="0")
    response = await http.post(f"/admin/events/{event_id}", data={**form, "csrf_token": token})
    assert response.status_code == 303, response.text[:300]
    event = await _stored(db, "edited")
    assert (event.reminders, event.followup_after_minutes) == ("30", 0)
