"""The event form's embed origins (SPEC §14): saved normalised and shown again, a line that is not an origin refused
beside the field with nothing stored, and the event's page giving the code to paste (or saying it cannot be framed)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.admin.test_events import _post_new
from webinar.tables import events


async def _stored(db) -> list[str]:
    async with db.connection() as conn:
        return [r["embed_origins"] for r in await conn.fetch_all(sa.select(events.c.embed_origins))]


async def test_embed_origins_are_saved_normalised_and_shown_again(operator_client, db, create_organisation) -> None:
    http = await operator_client()
    sites = " https://WWW.Example.ro/ \r\n\r\nhttp://localhost:8080\r\nhttps://www.example.ro:443\r\nhttps://b.example.ro:8443"
    # (the same site twice, once with its default port, is kept once)
    response = await _post_new(http, await create_organisation(), embed_origins=sites)
    assert response.status_code == 303
    assert await _stored(db) == ["https://www.example.ro\nhttp://localhost:8080\nhttps://b.example.ro:8443"]
    async with db.connection() as conn:
        event_id, slug = (await conn.fetch_one(sa.select(events.c.id, events.c.slug)))._mapping.values()
    edit = await http.get(f"/admin/events/{event_id}/edit")
    assert ">https://www.example.ro\nhttp://localhost:8080\nhttps://b.example.ro:8443</textarea>" in edit.text
    page = await http.get(f"/admin/events/{event_id}")
    assert 'id="embed-snippet"' in page.text and 'id="embed-nowhere"' not in page.text
    assert f"src=&#34;http://testserver/events/{slug}/embed&#34;" in page.text  # as text, to copy
    assert "e.origin !== &#34;http://testserver&#34;" in page.text


@pytest.mark.parametrize(
    "bad",
    [
        "http://www.example.ro",  # plain http away from localhost
        "https://www.example.ro/inscriere",  # a path
        "www.example.ro",  # no scheme
        "https://www.example.ro:99999",  # no such port
        "https://user@www.example.ro",
        "https://www.example.ro; script-src *",  # would add to the CSP header
        "https://www.example.ro\nftp://files.example.ro",
    ],
)
async def test_a_line_that_is_not_an_origin_is_refused_and_nothing_stored(
    operator_client, db, create_organisation, bad: str
) -> None:
    http = await operator_client()
    response = await _post_new(http, await create_organisation(), embed_origins=bad)
    assert response.status_code == 422 and await _stored(db) == []
    assert 'id="embed_origins"' in response.text and 'aria-invalid="true"' in response.text
    assert "is not a site address" in response.text


async def test_without_origins_the_event_page_says_the_form_is_framed_nowhere(
    operator_client, db, create_organisation
) -> None:
    http = await operator_client()
    assert (await _post_new(http, await create_organisation())).status_code == 303
    assert await _stored(db) == [""]
    async with db.connection() as conn:
        event_id = await conn.fetch_val(sa.select(events.c.id))
    page = await http.get(f"/admin/events/{event_id}")
    assert 'id="embed-nowhere"' in page.text and 'id="embed-snippet"' not in page.text
