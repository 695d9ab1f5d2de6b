"""Organisations and staff accounts, created by operators through the forms."""

from __future__ import annotations

import httpx
import pytest

from tests.admin.helpers import audit_entries, count
from tests.conftest import csrf_for, login_staff
from webinar.tables import organisations, staff_users


async def test_operator_creates_an_organisation(operator_client, db) -> None:
    http = await operator_client()
    token = await csrf_for(http, "/admin/organisations")
    data = {"name": "Asociația Științifică", "slug": "asociatia-stiintifica", "contact_email": "dpo@asociatia.ro"}
    response = await http.post("/admin/organisations", data={**data, "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"].endswith("/admin/organisations")
    page = await http.get("/admin/organisations")
    assert "Asociația Științifică" in page.text and "dpo@asociatia.ro" in page.text
    assert [e["slug"] for e in await audit_entries(db, "organisation.created")] == ["asociatia-stiintifica"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("slug", "Bad Slug!", "Use only lower-case letters"),
        ("slug", "", "This field is required."),
        ("contact_email", "not-an-address", "Enter a valid e-mail address."),
        ("name", "x" * 201, "Use at most 200 characters."),
        ("name", "Nul\x00name", "Remove the control characters"),
    ],
)
async def test_bad_organisation_is_422_and_not_stored(operator_client, db, field, value, message) -> None:
    http = await operator_client()
    token = await csrf_for(http, "/admin/organisations")
    data = {"name": "Good name", "slug": "good-slug", "contact_email": "dpo@example.org", field: value}
    response = await http.post("/admin/organisations", data={**data, "csrf_token": token})
    assert response.status_code == 422
    assert message in response.text
    assert 'value="dpo@example.org"' in response.text or field == "contact_email"  # values kept
    assert await count(db, organisations) == 0


async def test_taken_organisation_slug_is_422(operator_client, db, create_organisation) -> None:
    await create_organisation(slug="taken")
    http = await operator_client()
    token = await csrf_for(http, "/admin/organisations")
    data = {"name": "Another", "slug": "taken", "contact_email": "dpo@example.org", "csrf_token": token}
    response = await http.post("/admin/organisations", data=data)
    assert response.status_code == 422
    assert "Another organisation already uses this slug." in response.text
    assert await count(db, organisations) == 1


async def test_operator_creates_an_organiser_who_can_log_in(operator_client, db, create_organisation, app) -> None:
    org_id = await create_organisation(name="Client SRL")
    http = await operator_client()
    token = await csrf_for(http, "/admin/users")
    data = {
        "email": "Maria@Client.example",
        "password": "a long enough password",
        "role": "organiser",
        "organisation_id": str(org_id),
        "csrf_token": token,
    }
    response = await http.post("/admin/users", data=data)
    assert response.status_code == 303
    async with db.connection() as conn:
        row = await conn.fetch_one(staff_users.select().where(staff_users.c.email_normalised == "maria@client.example"))
    assert row is not None and row["role"] == "organiser" and row["organisation_id"] == org_id
    assert row["password_hash"].startswith("$argon2id$")
    assert [e["email"] for e in await audit_entries(db, "staff.created")] == ["Maria@client.example"]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as organiser:
        assert (await login_staff(organiser, "maria@client.example", "a long enough password")).status_code == 303


@pytest.mark.parametrize(
    ("overrides", "field_message"),
    [
        ({"password": "short pass"}, "The password must have from 12 to 128 characters."),
        ({"organisation_id": ""}, "An organiser needs an organisation."),
        ({"organisation_id": "999999"}, "An organiser needs an organisation."),
        ({"email": "no-at-sign"}, "Enter a valid e-mail address."),
        ({"role": "admin"}, "Choose operator or organiser."),
    ],
)
async def test_bad_staff_account_is_422_and_not_stored(
    operator_client, db, create_organisation, overrides, field_message
) -> None:
    org_id = await create_organisation()
    http = await operator_client()
    token = await csrf_for(http, "/admin/users")
    data = {"email": "new@example.org", "password": "a long enough password", "role": "organiser"}
    data.update({"organisation_id": str(org_id), **overrides, "csrf_token": token})
    response = await http.post("/admin/users", data=data)
    assert response.status_code == 422
    assert field_message in response.text
    assert await count(db, staff_users) == 1  # only the operator who is logged in


async def test_staff_address_already_used_is_422(operator_client, db, create_staff) -> None:
    existing = await create_staff("operator")
    http = await operator_client()
    token = await csrf_for(http, "/admin/users")
    data = {"email": existing.email.upper(), "password": "a long enough password", "role": "operator"}
    response = await http.post("/admin/users", data={**data, "csrf_token": token})
    assert response.status_code == 422
    assert "A staff account with this address already exists." in response.text
    assert await count(db, staff_users) == 2


async def test_deactivated_account_is_logged_out_and_cannot_log_in(
    app, operator_client, db, create_staff, create_organisation
) -> None:
    organiser = await create_staff("organiser", await create_organisation())
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50003))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await login_staff(other, organiser.email)
        http = await operator_client()
        token = await csrf_for(http, "/admin/users")
        response = await http.post(f"/admin/users/{organiser.id}/deactivate", data={"csrf_token": token})
        assert response.status_code == 303
        assert (await other.get("/admin/")).status_code == 303
        assert (await login_staff(other, organiser.email)).status_code == 400
    assert [e["staff_user_id"] for e in await audit_entries(db, "staff.deactivated")] == [organiser.id]


async def test_revoke_and_deactivate_unknown_account_is_404(operator_client) -> None:
    http = await operator_client()
    token = await csrf_for(http, "/admin/users")
    for action in ("revoke-sessions", "deactivate"):
        assert (await http.post(f"/admin/users/987654/{action}", data={"csrf_token": token})).status_code == 404
        huge = f"/admin/users/{2**70}/{action}"
        assert (await http.post(huge, data={"csrf_token": token})).status_code == 404


async def test_revoke_is_audited(operator_client, db, create_staff) -> None:
    other = await create_staff("operator")
    http = await operator_client()
    token = await csrf_for(http, "/admin/users")
    assert (await http.post(f"/admin/users/{other.id}/revoke-sessions", data={"csrf_token": token})).status_code == 303
    assert [e["staff_user_id"] for e in await audit_entries(db, "staff.sessions_revoked")] == [other.id]
