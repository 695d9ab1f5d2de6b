"""API tokens: `webinar create-token` and the back-office page create them (shown once, kept as a hash), list them,
revoke them; another organisation's organiser gets a 404; every write is in the audit log."""

from __future__ import annotations

import re

import httpx
import sqlalchemy as sa

from tests.admin.helpers import audit_entries
from tests.conftest import csrf_for, login_staff
from tests.webinar.test_cli import cli_env, run
from webinar.api import tokens
from webinar.tables import api_tokens

TOKEN_RE = re.compile(r'<code id="new-token">(wbn_[A-Za-z0-9_-]{43})</code>')


async def _stored(db) -> list[dict]:
    async with db.connection() as conn:
        return [dict(r._mapping) for r in await conn.fetch_all(sa.select(api_tokens).order_by(api_tokens.c.id))]


async def test_create_token_prints_it_once_and_keeps_only_its_hash(database_url, tmp_path, create_organisation, db):
    org_id = await create_organisation(slug="acme")
    env = cli_env(database_url, tmp_path)
    done = run(["create-token", "--organisation", "acme", "--name", "CRM"], env)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert tokens.looks_like(token) and "shown this once" in done.stderr
    platform = run(["create-token", "--name", "Operators' BI"], env)
    assert platform.returncode == 0, platform.stderr
    unknown = run(["create-token", "--organisation", "nope", "--name", "x"], env)
    assert unknown.returncode == 1 and "no organisation" in unknown.stderr
    empty = run(["create-token", "--organisation", "acme", "--name", "  "], env)
    assert empty.returncode == 1 and "name" in empty.stderr
    [first, second] = await _stored(db)
    assert (first["organisation_id"], first["name"], second["organisation_id"]) == (org_id, "CRM", None)
    assert first["token_hash"] == tokens.digest(token) and token not in str(first)
    assert (await tokens.authenticate(db, token)).id == first["id"]
    assert await tokens.authenticate(db, token[:-1]) is None  # truncated
    assert await tokens.authenticate(db, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


async def test_back_office_creates_lists_and_revokes(client: httpx.AsyncClient, create_organisation, create_staff, db):
    org_id = await create_organisation()
    organiser = await create_staff("organiser", org_id)
    assert (await login_staff(client, organiser.email)).status_code == 303
    page = f"/admin/organisations/{org_id}/tokens"
    csrf = await csrf_for(client, page)
    bad = await client.post(page, data={"csrf_token": csrf, "name": ""})
    assert bad.status_code == 422 and "Give the token a name" in bad.text
    assert await _stored(db) == []
    created = await client.post(page, data={"csrf_token": csrf, "name": "Newsletter"})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    token = TOKEN_RE.search(created.text).group(1)
    again = await client.get(page)
    assert token not in again.text and token[:12] in again.text  # shown once; its start tells it apart
    [row] = await _stored(db)
    assert row["token_hash"] == tokens.digest(token) and row["created_by"] == organiser.email
    assert (await tokens.authenticate(db, token)) is not None
    assert (await _stored(db))[0]["last_used_at"] is not None  # the last use is recorded
    revoked = await client.post(f"{page}/{row['id']}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert await tokens.authenticate(db, token) is None
    assert (await client.post(f"{page}/{row['id']}/revoke", data={"csrf_token": csrf})).status_code == 404
    assert [e["token_id"] for e in await audit_entries(db, "api_token.created")] == [row["id"]]
    assert [e["token_id"] for e in await audit_entries(db, "api_token.revoked")] == [row["id"]]


async def test_another_organisations_tokens_are_a_404(client: httpx.AsyncClient, create_organisation, create_staff, db):
    mine, theirs = await create_organisation(), await create_organisation()
    async with db.transaction() as conn:
        await tokens.create(conn, theirs, "Theirs", actor="test")
    [their_token] = await _stored(db)
    organiser = await create_staff("organiser", mine)
    assert (await login_staff(client, organiser.email)).status_code == 303
    csrf = await csrf_for(client, f"/admin/organisations/{mine}/tokens")
    assert (await client.get(f"/admin/organisations/{theirs}/tokens")).status_code == 404
    post = await client.post(f"/admin/organisations/{theirs}/tokens", data={"csrf_token": csrf, "name": "x"})
    assert post.status_code == 404
    revoke = await client.post(
        f"/admin/organisations/{mine}/tokens/{their_token['id']}/revoke", data={"csrf_token": csrf}
    )
    assert revoke.status_code == 404
    assert (await client.get("/admin/tokens")).status_code == 404  # the platform's: operators only
    assert [r["name"] for r in await _stored(db)] == ["Theirs"] and (await _stored(db))[0]["revoked_at"] is None


async def test_operators_create_platform_tokens(operator_client, db):
    http = await operator_client()
    csrf = await csrf_for(http, "/admin/tokens")
    created = await http.post("/admin/tokens", data={"csrf_token": csrf, "name": "BI"})
    assert created.status_code == 200
    token = TOKEN_RE.search(created.text).group(1)
    found = await tokens.authenticate(db, token)
    assert found is not None and found.platform
