"""A token sees only its organisation: every operation of the API with another organisation's ids is a 404, the lists
hold only its own; a platform token sees every organisation; bad tokens are a 401."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from tests.api.conftest import bearer
from webinar.api import tokens
from webinar.api.routes import OPERATIONS
from webinar.clock import now
from webinar.tables import api_tokens, webhook_subscriptions


async def _world(create_organisation, create_event, create_registration, create_viewing_session, db) -> dict:
    """One organisation's event, registration, session and webhook."""
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id)
    reg_id = await create_registration(event_id, status="pending")
    await create_viewing_session(event_id, reg_id, now() - dt.timedelta(minutes=5))
    async with db.transaction() as conn:
        hook_id = await conn.fetch_val(
            webhook_subscriptions.insert()
            .values(organisation_id=org_id, url="https://example.org/h", events=",registration.created,",
                    secret="whsec_eA==", created_at=now())
            .returning(webhook_subscriptions.c.id)
        )  # fmt: skip
    return {"org": org_id, "event_id": event_id, "registration_id": reg_id, "webhook_id": hook_id}


BODIES = {
    "create_registration": {"email": "x@example.org", "first_name": "A", "last_name": "B", "consent": "imported"},
    "patch_registration": {"status": "approved"},
}


@pytest.fixture
async def two(create_organisation, create_event, create_registration, create_viewing_session, db):
    mine = await _world(create_organisation, create_event, create_registration, create_viewing_session, db)
    theirs = await _world(create_organisation, create_event, create_registration, create_viewing_session, db)
    return mine, theirs


async def test_every_operation_with_another_organisations_id_is_a_404(two, create_token, api_client, db):
    mine, theirs = two
    async with api_client(await create_token(mine["org"])) as api:
        checked = 0
        for op in OPERATIONS:
            names = {p.name for p in op.params if p.where == "path"}
            if not names:
                continue
            path = op.path.format(**{name: theirs[name] for name in names})
            response = await api.request(op.method, path, json=BODIES.get(op.name))
            assert response.status_code == 404, (op.name, response.status_code, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            checked += 1
        assert checked == 8  # every operation with an id in its path
        # Theirs is untouched: still pending, no new registration, the webhook still there.
        their_reg = await api.get(f"/registrations/{theirs['registration_id']}")
        assert their_reg.status_code == 404
        events = (await api.get("/events")).json()["data"]
        assert [e["id"] for e in events] == [mine["event_id"]]
        hooks = (await api.get("/webhooks")).json()["data"]
        assert [h["id"] for h in hooks] == [mine["webhook_id"]]
    async with api_client(await create_token(theirs["org"])) as api:
        reg = (await api.get(f"/registrations/{theirs['registration_id']}")).json()
        assert reg["status"] == "pending"
        assert len((await api.get(f"/events/{theirs['event_id']}/registrations")).json()["data"]) == 1
        assert len((await api.get("/webhooks")).json()["data"]) == 1


async def test_a_platform_token_sees_every_organisation(two, create_token, api_client):
    mine, theirs = two
    async with api_client(await create_token(None)) as api:
        events = (await api.get("/events")).json()["data"]
        assert {e["id"] for e in events} == {mine["event_id"], theirs["event_id"]}
        assert (await api.get(f"/registrations/{theirs['registration_id']}")).status_code == 200


async def test_missing_bad_truncated_revoked_and_expired_tokens_are_a_401(two, create_token, client, db):
    mine, _theirs = two
    token = await create_token(mine["org"])
    revoked, expired = await create_token(mine["org"]), await create_token(mine["org"])
    async with db.transaction() as conn:
        await conn.execute(
            api_tokens.update().where(api_tokens.c.token_hash == tokens.digest(revoked)).values(revoked_at=now())
        )
        await conn.execute(
            api_tokens.update()
            .where(api_tokens.c.token_hash == tokens.digest(expired))
            .values(expires_at=now() - dt.timedelta(seconds=1))
        )
    for headers in (
        {},
        {"Authorization": token},  # no scheme
        {"Authorization": f"Basic {token}"},
        bearer(token[:-3]),
        bearer(token + "x"),
        bearer("wbn_" + "A" * 43),
        bearer(revoked),
        bearer(expired),
    ):
        response = await client.get("/api/v1/events", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["status"] == 401
    assert (await client.get("/api/v1/events", headers=bearer(token))).status_code == 200
    async with db.connection() as conn:
        used = await conn.fetch_val(
            sa.select(api_tokens.c.last_used_at).where(api_tokens.c.token_hash == tokens.digest(token))
        )
    assert used is not None
