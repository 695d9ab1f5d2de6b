"""Webhooks against a real local receiver: Standard Webhooks signatures (verified with the `standardwebhooks`
library), every place that announces (the form's lock-free path, the API, a decision, a cancellation and the waiting
list's promotion, the clock), once after a 2xx even with two senders, retries with backoff for three days, a
delivery log, and targets refused on private addresses, on redirects and when they never answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from tests.api.receiver import running_receiver
from tests.conftest import csrf_for
from tests.webinar.moved_clock import MovedClock
from webinar.clock import now
from webinar.tables import organisations, outbox, webhook_attempts, webhook_deliveries, webhook_subscriptions
from webinar.webhooks import clock as webhook_clock
from webinar.webhooks import sender

ALL = [
    "registration.created", "registration.status_changed", "session.started", "session.ended", "attendance.final",
    "certificate.issued",
]  # fmt: skip


@pytest.fixture
def settings(settings):
    return settings.with_overrides(webhook_allow_private=True, webhook_retry_seconds=30.0)


@pytest.fixture
def receiver():
    with running_receiver() as running:
        yield running


async def _subscribe(api, url: str, events=ALL) -> dict:
    created = await api.post("/webhooks", json={"url": url, "events": events})
    assert created.status_code == 201, created.text
    return created.json()


async def _deliver_all(settings, db, owner: str = "test-sender") -> None:
    while await sender.deliver_pass(settings, db, owner):
        pass


async def _rows(db, table, *order) -> list:
    async with db.connection() as conn:
        return list(await conn.fetch_all(sa.select(table).order_by(*(order or (table.c.id,)))))


async def test_every_announcement_is_signed_and_delivered_once(
    settings, client, create_organisation, create_event, create_token, api_client, receiver, db
):
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id, capacity=1, waitlist=True)
    open_event = await create_event(organisation_id=org_id)  # no seats: the form writes it lock-free (batch.py)
    async with api_client(await create_token(org_id)) as api:
        hook = await _subscribe(api, receiver.url)
        assert hook["secret"].startswith("whsec_") and "secret" not in (await api.get("/webhooks")).json()["data"][0]
        version = (await api.get(f"/events/{event_id}")).json()["consent_version"]
        person = {"first_name": "Ana", "last_name": "Pop", "consent": "given", "consent_version": version,
                  "age_confirmed": True}  # fmt: skip
        first = (await api.post(f"/events/{event_id}/registrations", json=person | {"email": "a@example.org"})).json()
        second = (await api.post(f"/events/{event_id}/registrations", json=person | {"email": "b@example.org"})).json()
        assert second["status"] == "waitlisted"
        await api.patch(f"/registrations/{first['id']}", json={"status": "cancelled"})  # b takes the seat
    slug = (await api_client(await create_token(org_id)).get(f"/events/{open_event}")).json()["slug"]
    page = f"/events/{slug}"
    form = {
        "csrf_token": await csrf_for(client, page), "first_name": "Ion", "last_name": "Pop", "email": "c@example.org",
        "consent_processing": "on", "consent_version": str(version), "age_confirmed": "on",
    }  # fmt: skip
    assert (await client.post(f"{page}/register", data=form)).status_code == 303
    await _deliver_all(settings, db)
    await _deliver_all(settings, db, "another-sender")  # nothing left for a second sender
    verify = Webhook(hook["secret"])
    got = [verify.verify(r.body, r.headers) for r in receiver.received]
    assert [(g["type"], g["data"]["registration_id"], g["data"].get("status")) for g in got] == [
        ("registration.created", first["id"], "approved"),
        ("registration.created", second["id"], "waitlisted"),
        ("registration.status_changed", first["id"], "cancelled"),
        ("registration.status_changed", second["id"], "approved"),
        ("registration.created", got[4]["data"]["registration_id"], "approved"),
    ]
    assert got[4]["data"]["event_id"] == open_event and got[3]["data"]["from"] == "waitlisted"
    assert len(set(receiver.ids())) == 5
    assert {r["status"] for r in await _rows(db, webhook_deliveries)} == {"delivered"}
    assert [r["status_code"] for r in await _rows(db, webhook_attempts)] == [204] * 5
    tampered = receiver.received[0]
    with pytest.raises(Exception, match="signature"):
        verify.verify(tampered.body + b" ", tampered.headers)


async def test_two_senders_deliver_each_once(
    settings, create_organisation, create_event, create_registration, create_token, api_client, receiver, db
):
    from webinar.webhooks import queue

    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id)
    async with api_client(await create_token(org_id)) as api:
        await _subscribe(api, receiver.url)
    ids = [await create_registration(event_id) for _ in range(25)]
    async with db.transaction() as conn:
        await queue.announce_registrations(conn, "registration.created", ids)
    await asyncio.gather(_deliver_all(settings, db, "worker-1"), _deliver_all(settings, db, "worker-2"))
    assert sorted(receiver.ids()) == sorted(f"msg_{r['id']}" for r in await _rows(db, webhook_deliveries))
    assert len(receiver.ids()) == 25


async def test_failures_back_off_for_three_days_and_are_logged(
    settings, monkeypatch, create_organisation, create_event, create_registration, create_token, api_client, receiver,
    db,
):  # fmt: skip
    from webinar.webhooks import queue

    clock = MovedClock(monkeypatch)
    start = clock.to(now())
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id)
    async with api_client(await create_token(org_id)) as api:
        await _subscribe(api, receiver.url, ["registration.created"])
    reg_id = await create_registration(event_id)
    async with db.transaction() as conn:
        await queue.announce_registrations(conn, "registration.created", [reg_id])
    receiver.statuses = [500] * 1000
    waits = []
    while True:
        await _deliver_all(settings, db)
        [delivery] = await _rows(db, webhook_deliveries)
        if delivery["status"] != "queued":
            break
        waits.append(delivery["next_attempt_at"] - clock.at)
        clock.to(delivery["next_attempt_at"])
    assert delivery["status"] == "failed" and clock.at - start >= dt.timedelta(days=3)
    assert waits[0] <= dt.timedelta(seconds=30) and waits[1] > waits[0] and max(waits) <= sender.RETRY_MOST
    assert delivery["attempts"] == len(receiver.received) == len(waits) + 1
    log = await _rows(db, webhook_attempts)
    assert len(log) == delivery["attempts"] and {r["status_code"] for r in log} == {500}
    assert len({r.body for r in receiver.received}) == 1  # the same body, and id, on every retry
    assert len(set(receiver.ids())) == 1
    # Three days without a 2xx: the subscription is disabled, its organisation told, its next deliveries given up.
    [sub] = await _rows(db, webhook_subscriptions)
    assert sub["disabled_at"] is not None
    async with db.connection() as conn:
        mail = await conn.fetch_one(sa.select(outbox).where(outbox.c.kind == "webhook_disabled"))
        contact = await conn.fetch_val(sa.select(organisations.c.contact_email).where(organisations.c.id == org_id))
    assert mail["to_address"] == contact and receiver.url in mail["body_text"] and "dezactivat" in mail["subject"]
    later = await create_registration(event_id)
    async with db.transaction() as conn:
        await queue.announce_registrations(conn, "registration.created", [later])
    await _deliver_all(settings, db)
    assert len(receiver.received) == delivery["attempts"]  # nothing more went out


async def test_a_redirect_is_not_followed_and_a_slow_receiver_times_out(
    settings, monkeypatch, create_organisation, create_event, create_registration, create_token, api_client, db
):
    from webinar.webhooks import queue

    monkeypatch.setattr(sender, "TIMEOUT", sender.httpx.Timeout(0.5))
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id)
    with running_receiver() as slow, running_receiver() as target, running_receiver() as redirecting:
        slow.delay = 3.0
        redirecting.statuses, redirecting.location = [302], target.url
        async with api_client(await create_token(org_id)) as api:
            await _subscribe(api, slow.url, ["registration.created"])
            await _subscribe(api, redirecting.url, ["registration.created"])
        reg_id = await create_registration(event_id)
        async with db.transaction() as conn:
            await queue.announce_registrations(conn, "registration.created", [reg_id])
        await _deliver_all(settings, db)
        assert target.received == []  # the redirect was not followed
    log = {r["subscription_id"]: r for r in await _rows(db, webhook_attempts)}
    assert [(r["status_code"], r["error"]) for r in log.values()] == [(None, "timeout"), (302, None)]
    assert {r["status"] for r in await _rows(db, webhook_deliveries)} == {"queued"}  # to be tried again


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hooks", "http://169.254.169.254/latest/meta-data", "http://localhost:8000/x",
        "http://[::1]/x", "http://10.0.0.7/x", "ftp://example.org/x", "http://user:pw@example.org/x", "not a url",
    ],
)  # fmt: skip
async def test_private_targets_are_refused(app, settings, url, create_organisation, create_token, api_client, db):
    app.state.settings = settings.with_overrides(webhook_allow_private=False)
    org_id = await create_organisation()
    async with api_client(await create_token(org_id)) as api:
        refused = await api.post("/webhooks", json={"url": url, "events": ALL})
    assert refused.status_code == 422 and "url" in refused.json()["errors"], refused.text
    assert await _rows(db, webhook_deliveries) == []


async def test_a_target_that_turned_private_is_refused_when_sending(
    settings, create_organisation, create_event, create_registration, create_token, api_client, receiver, db
):
    from webinar.webhooks import queue

    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id)
    async with api_client(await create_token(org_id)) as api:
        await _subscribe(api, receiver.url, ["registration.created"])
    reg_id = await create_registration(event_id)
    async with db.transaction() as conn:
        await queue.announce_registrations(conn, "registration.created", [reg_id])
    await _deliver_all(settings.with_overrides(webhook_allow_private=False), db)
    assert receiver.received == []
    [attempt] = await _rows(db, webhook_attempts)
    assert attempt["error"].startswith("refused")


async def test_the_clock_announces_start_end_and_final_attendance_once(
    settings, monkeypatch, create_organisation, create_event, create_token, api_client, receiver, db
):
    clock = MovedClock(monkeypatch)
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id)
    async with api_client(await create_token(org_id)) as api:
        await _subscribe(api, receiver.url)
        starts = dt.datetime.fromisoformat((await api.get(f"/events/{event_id}")).json()["starts_at"])
    for moment, expected in (
        (starts - dt.timedelta(seconds=1), 0),
        (starts, 1),
        (starts + dt.timedelta(hours=2), 1),
        (starts + dt.timedelta(hours=2, minutes=9), 0),
        (starts + dt.timedelta(hours=2, minutes=10), 1),
    ):
        clock.to(moment)
        assert await webhook_clock.announce_due(db) == expected, moment
        assert await webhook_clock.announce_due(db) == 0  # once
    await _deliver_all(settings, db)
    types = [json.loads(r.body)["type"] for r in receiver.received]
    assert types == ["session.started", "session.ended", "attendance.final"]


async def test_a_certificate_issued_is_announced(
    settings, create_organisation, create_event, create_registration, create_viewing_session, db
):
    from tests.webinar.access_helpers import load_event
    from webinar.certificates import services as certificate_services
    from webinar.webhooks import subscriptions

    org_id = await create_organisation()
    start = now().replace(microsecond=0) - dt.timedelta(hours=3)
    event = await load_event(
        db,
        await create_event(
            organisation_id=org_id, starts_at=start, ends_at=start + dt.timedelta(hours=2), certificates=True,
            certificate_series="S", attendance_minutes=30,
        ),
    )  # fmt: skip
    reg_id = await create_registration(event.id)
    await create_viewing_session(event.id, reg_id, start, start + dt.timedelta(minutes=60))
    async with db.transaction() as conn:
        await subscriptions.create(conn, org_id, "https://example.org/h", ["certificate.issued"], "test", None)
    outcome = await certificate_services.issue(db, event, reg_id)
    [delivery] = await _rows(db, webhook_deliveries)
    details = json.loads(delivery["details_json"])
    assert (delivery["type"], delivery["registration_id"]) == ("certificate.issued", reg_id)
    assert details["certificate"].startswith("S-1-") and outcome is not None
