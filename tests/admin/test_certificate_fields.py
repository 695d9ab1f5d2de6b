"""The event form's certificate fields (SPEC §13): credits, certificates, the series; a bad series is a 422 beside the
field with nothing stored."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.admin.test_attendance_fields import _post_new, error_of
from webinar.events import queries as event_queries
from webinar.tables import events


async def test_the_certificate_fields_are_stored_and_shown_again(operator_client, db, create_organisation) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    response = await _post_new(
        http, org_id, slug="emc", certificates="1", certificate_series="CMSR-2026/0413", credits="4 credite EMC"
    )
    assert response.status_code == 303, error_of(response.text, "certificate_series") or response.text[:300]
    async with db.connection() as conn:
        event = await event_queries.by_slug(conn, "emc")
    assert event is not None
    assert (event.certificates, event.certificate_series, event.credits) == (True, "CMSR-2026/0413", "4 credite EMC")
    edit = await http.get(f"/admin/events/{event.id}/edit")
    assert 'name="certificate_series" type="text" value="CMSR-2026/0413"' in edit.text
    assert 'id="certificates" name="certificates" type="checkbox" value="1" checked' in edit.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"certificates": "1", "certificate_series": ""}, "Give the series the certificates are numbered in."),
        (
            {"certificate_series": "CMSR 2026"},
            "Use only letters A–Z, digits, hyphens and slashes (for example CMSR-2026-0413).",
        ),
        (
            {"certificate_series": "ȘERIE-1"},
            "Use only letters A–Z, digits, hyphens and slashes (for example CMSR-2026-0413).",
        ),
        ({"certificate_series": "A" * 41}, "Use at most 40 characters."),
    ],
)
async def test_a_bad_series_is_refused_beside_the_field(
    operator_client, db, create_organisation, fields, message
) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    response = await _post_new(http, org_id, slug="bad", **fields)
    assert response.status_code == 422
    assert error_of(response.text, "certificate_series") == message
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(events)) == 0
