"""The event form's crowd settings (SPEC §15): double opt-in and devices at once, saved, shown again, and a bad number
of devices refused beside its field with nothing stored."""

from __future__ import annotations

import sqlalchemy as sa

from tests.admin.test_events import _post_new
from webinar.tables import events


async def _stored(db) -> list[tuple[bool, int]]:
    async with db.connection() as conn:
        rows = await conn.fetch_all(sa.select(events.c.id, events.c.confirm_email, events.c.devices))
    return [(bool(r["confirm_email"]), r["devices"]) for r in rows]


async def test_double_opt_in_and_devices_are_saved_and_shown_again(operator_client, db, create_organisation) -> None:
    http = await operator_client()
    org_id = await create_organisation()
    response = await _post_new(http, org_id, confirm_email="1", devices="2")
    assert response.status_code == 303
    assert await _stored(db) == [(True, 2)]
    async with db.connection() as conn:
        event_id = await conn.fetch_val(sa.select(events.c.id))
    edit = await http.get(f"/admin/events/{event_id}/edit")
    assert edit.status_code == 200
    assert 'id="confirm_email" name="confirm_email" type="checkbox" value="1" checked' in edit.text
    assert 'name="devices"' in edit.text and 'value="2"' in edit.text


async def test_an_event_without_the_fields_gets_one_device_and_no_double_opt_in(
    operator_client, db, create_organisation
) -> None:
    http = await operator_client()
    assert (await _post_new(http, await create_organisation())).status_code == 303
    assert await _stored(db) == [(False, 1)]


async def test_too_many_devices_is_refused_beside_the_field(operator_client, db, create_organisation) -> None:
    http = await operator_client()
    response = await _post_new(http, await create_organisation(), devices="11")
    assert response.status_code == 422 and await _stored(db) == []
    assert 'id="devices"' in response.text and 'aria-invalid="true"' in response.text
