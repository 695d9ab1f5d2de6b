"""Registrations through the API: the form's rules by the form's services (consent, capacity, waiting list,
duplicates, approval e-mails), paging by cursor, status changes, and bad input answered as problems with nothing
stored."""

from __future__ import annotations

import json

import sqlalchemy as sa

from tests.admin.helpers import audit_entries, count
from tests.webinar.question_helpers import add_questions
from webinar.tables import answers, consent_records, outbox, registrations

PERSON = {"email": "Ana.Pop@Example.org", "first_name": "Ana", "last_name": "Pop", "age_confirmed": True}


async def _given(api, event_id: int) -> dict:
    version = (await api.get(f"/events/{event_id}")).json()["consent_version"]
    return PERSON | {"consent": "given", "consent_version": version}


async def test_a_registration_with_consent_is_written_as_the_form_writes_it(
    create_organisation, create_event, create_token, api_client, db
):
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id, approval="manual")
    async with api_client(await create_token(org_id)) as api:
        body = await _given(api, event_id)
        created = await api.post(f"/events/{event_id}/registrations", json=body | {"marketing": True})
        assert created.status_code == 201, created.text
        reg = created.json()
        assert (reg["email"], reg["status"], reg["marketing_opt_in"]) == ("Ana.Pop@Example.org", "pending", True)
        again = await api.post(f"/events/{event_id}/registrations", json=body | {"email": "ana.pop@example.org"})
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
        approved = await api.patch(f"/registrations/{reg['id']}", json={"status": "approved"})
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        back = await api.patch(f"/registrations/{reg['id']}", json={"status": "approved"})
        assert back.status_code == 200  # already so: nothing to do
        cancelled = await api.patch(f"/registrations/{reg['id']}", json={"status": "cancelled"})
        assert cancelled.json()["status"] == "cancelled"
        refused = await api.patch(f"/registrations/{reg['id']}", json={"status": "approved"})
        assert refused.status_code == 409
    async with db.connection() as conn:
        purposes = await conn.fetch_all(
            sa.select(consent_records.c.purpose, consent_records.c.action, consent_records.c.text_version)
            .where(consent_records.c.registration_id == reg["id"])
            .order_by(consent_records.c.id)
        )
        kinds = [r["kind"] for r in await conn.fetch_all(sa.select(outbox.c.kind).order_by(outbox.c.id))]
    assert [(r["purpose"], r["action"], r["text_version"]) for r in purposes] == [
        ("processing", "given", body["consent_version"]), ("marketing", "given", None), ("age", "given", None),
    ]  # fmt: skip
    # The e-mails of each step, as from the form and the back office (the duplicate: the form's notice).
    assert kinds == ["received", "already_registered", "approved", "cancelled"]
    assert [e["status"] for e in await audit_entries(db, "api.registration.status")] == ["approved", "cancelled"]
    assert len(await audit_entries(db, "api.registration.created")) == 1


async def test_capacity_waiting_list_and_imported_basis(
    create_organisation, create_event, create_token, api_client, db
):
    org_id = await create_organisation()
    full = await create_event(organisation_id=org_id, capacity=1)
    line = await create_event(organisation_id=org_id, capacity=1, waitlist=True)
    async with api_client(await create_token(org_id)) as api:
        for event_id in (full, line):
            first = await api.post(f"/events/{event_id}/registrations", json=await _given(api, event_id))
            assert first.json()["status"] == "approved"
        second = PERSON | {"email": "b@example.org", "consent": "imported"}
        refused = await api.post(f"/events/{full}/registrations", json=second)
        assert refused.status_code == 409 and "full" in refused.json()["detail"]
        waiting = await api.post(f"/events/{line}/registrations", json=second)
        assert waiting.status_code == 201 and waiting.json()["status"] == "waitlisted"
    async with db.connection() as conn:
        basis = await conn.fetch_all(
            sa.select(consent_records.c.action, consent_records.c.recorded_by).where(
                consent_records.c.registration_id == waiting.json()["id"]
            )
        )
    assert [(r["action"], r["recorded_by"]) for r in basis] == [("imported", None)]


async def test_bad_input_is_a_problem_and_stores_nothing(
    create_organisation, create_event, create_token, api_client, db
):
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id)
    path = f"/events/{event_id}/registrations"
    async with api_client(await create_token(org_id)) as api:
        body = await _given(api, event_id)
        cases = [
            (await api.post(path, content=b"{not json", headers={"content-type": "application/json"}), 400, None),
            (await api.post(path, content=b"a=b", headers={"content-type": "text/plain"}), 415, None),
            (await api.post(path, json=body | {"nickname": "x"}), 422, "nickname"),
            (await api.post(path, json=body | {"first_name": 5}), 422, "first_name"),
            (await api.post(path, json=body | {"marketing": "yes"}), 422, "marketing"),
            (await api.post(path, json={k: v for k, v in body.items() if k != "email"}), 422, "email"),
            (await api.post(path, json=body | {"email": "not-an-address"}), 422, "email"),
            (
                await api.post(path, json=body | {"consent_version": body["consent_version"] + 1}),
                422,
                "consent_version",
            ),
            (await api.post(path, json=body | {"age_confirmed": False}), 422, "age_confirmed"),
            (await api.post(path, json=body | {"answers": {"999": "x"}}), 422, "answers.999"),
            (await api.post(path, json=[body]), 422, "body"),
            (await api.post(path, content=json.dumps(body | {"first_name": "x" * 100_000})), 413, None),
        ]
        for response, status, field in cases:
            assert response.status_code == status, (status, field, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            if field:
                assert field in response.json()["errors"], response.text
        huge = await api.post(path, content=b"{" + b" " * (10 * 1024 * 1024) + b"}")
        assert huge.status_code == 413 and huge.headers["content-type"] == "application/problem+json"
        nul = await api.get(f"{path}?status=%00")
        assert nul.status_code == 400 and nul.headers["content-type"] == "application/problem+json"
    assert await count(db, registrations) == 0


async def test_pages_follow_the_cursor_and_the_status_filter(
    create_organisation, create_event, create_registration, create_token, api_client
):
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id)
    ids = [await create_registration(event_id, status="pending" if n % 3 else "approved") for n in range(12)]
    async with api_client(await create_token(org_id)) as api:
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
            page = (await api.get(f"/events/{event_id}/registrations", params=params)).json()
            seen += [r["id"] for r in page["data"]]
            pages += 1
            if not (cursor := page["next_cursor"]):
                break
        assert (seen, pages) == (ids, 3)
        approved = (await api.get(f"/events/{event_id}/registrations", params={"status": "approved"})).json()
        assert [r["id"] for r in approved["data"]] == ids[::3]
        for params, field in (
            ({"cursor": "garbage"}, "cursor"), ({"limit": 0}, "limit"), ({"limit": "x"}, "limit"),
            ({"status": "maybe"}, "status"),
        ):  # fmt: skip
            bad = await api.get(f"/events/{event_id}/registrations", params=params)
            assert bad.status_code == 422 and field in bad.json()["errors"], bad.text


async def test_a_page_is_each_registration_as_read_alone_with_only_its_own_answers(
    create_organisation, create_event, create_registration, create_token, api_client, db
):
    org_id = await create_organisation()
    one, other = [await create_event(organisation_id=org_id) for _ in range(2)]
    [asked_one] = await add_questions(db, one, {"kind": "text", "label_en": "Specialty"})
    [asked_other] = await add_questions(db, other, {"kind": "text", "label_en": "City"})
    ids: dict[int, list[int]] = {one: [], other: []}
    for n in range(6):  # interleaved: another event's registrations lie between this one's ids
        for event_id, question in ((one, asked_one), (other, asked_other)):
            reg = await create_registration(event_id, status="approved" if n % 2 else "pending")
            ids[event_id].append(reg)
            async with db.connection() as conn:
                await conn.execute(answers.insert().values(registration_id=reg, question_id=question, value=f"a{reg}"))
    async with api_client(await create_token(org_id)) as api:
        for params in ({"limit": 4}, {"limit": 4, "status": "approved"}):
            listed, cursor = [], None
            while True:
                page = (
                    await api.get(
                        f"/events/{one}/registrations", params=params | ({"cursor": cursor} if cursor else {})
                    )
                ).json()
                listed += page["data"]
                if not (cursor := page["next_cursor"]):
                    break
            expected = ids[one] if "status" not in params else ids[one][1::2]
            assert [r["id"] for r in listed] == expected
            for r in listed:
                assert r["answers"] == {str(asked_one): f"a{r['id']}"}
                assert r == (await api.get(f"/registrations/{r['id']}")).json()  # every field, as read alone
