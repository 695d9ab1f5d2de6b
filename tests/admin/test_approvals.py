"""Registrations waiting for approval, on both engines: the nav's badge counts those in the staff member's scope, and
the daily digest reaches each organiser of an organisation with someone waiting once a day (from 08:00 in Bucharest,
even with two workers at once), never one who turned it off on "My account"; the clock is moved, never waited for."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest

from tests.admin.test_two_factor import browser
from tests.conftest import csrf_for, login_staff
from tests.webinar.moved_clock import MovedClock
from webinar import jobs
from webinar.jobs import Context
from webinar.mail.sender import deliver_due
from webinar.registration import digest
from webinar.registration.notifications import compose_queued
from webinar.tables import events, outbox, staff_users

# 07:30 in Bucharest (UTC+2 in December), then the morning's digest hour.
EARLY = dt.datetime(2026, 12, 10, 5, 30, tzinfo=dt.UTC)
MORNING = dt.datetime(2026, 12, 10, 6, 5, tzinfo=dt.UTC)
BADGE_RE = re.compile(r'<span class="badge pending" id="pending-approvals"[^>]*>([^<]+)</span>')


@pytest.fixture
async def waiting(db, create_organisation, create_event, create_registration, create_staff, monkeypatch):
    """Two organisations: the first with 2 + 1 registrations waiting in two events (and some that do not count),
    two organisers and a third who turned the digest off; the second with 1 waiting and one organiser."""
    clock = MovedClock(monkeypatch)
    clock.to(EARLY)
    first, second = await create_organisation(), await create_organisation()
    soon = {"starts_at": EARLY + dt.timedelta(days=2), "ends_at": EARLY + dt.timedelta(days=2, hours=1)}
    big = await create_event(organisation_id=first, approval="manual", title="Curs mare", **soon)
    small = await create_event(organisation_id=first, approval="manual", title="Curs mic", **soon)
    over = await create_event(
        organisation_id=first, approval="manual", starts_at=EARLY - dt.timedelta(days=2),
        ends_at=EARLY - dt.timedelta(days=2) + dt.timedelta(hours=1),
    )  # fmt: skip
    cancelled = await create_event(organisation_id=first, approval="manual", **soon)
    other = await create_event(organisation_id=second, approval="manual", **soon)
    for event_id, status in [
        (big, "pending"), (big, "pending"), (big, "approved"), (small, "pending"), (small, "rejected"),
        (over, "pending"), (cancelled, "pending"), (other, "pending"),
    ]:  # fmt: skip
        await create_registration(event_id, status=status)
    async with db.transaction() as conn:
        await conn.execute(
            events.update().where(events.c.id == cancelled).values(status="cancelled", cancelled_at=EARLY)
        )
    people = {
        "ana": await create_staff("organiser", first),
        "ion": await create_staff("organiser", first),
        "off": await create_staff("organiser", first),
        "eva": await create_staff("organiser", second),
        "operator": await create_staff("operator"),
    }
    return clock, people


async def _badge(app, email: str) -> str | None:
    http = browser(app)
    assert (await login_staff(http, email)).status_code == 303
    page = await http.get("/admin/")
    await http.aclose()
    found = BADGE_RE.search(page.text)
    return found.group(1) if found else None


async def test_the_badge_counts_what_waits_in_the_staff_members_scope(app, db, waiting) -> None:
    _, people = waiting
    assert await _badge(app, people["ana"].email) == "3 waiting"
    assert await _badge(app, people["eva"].email) == "1 waiting"
    assert await _badge(app, people["operator"].email) == "4 waiting"
    async with db.transaction() as conn:
        await conn.execute(staff_users.update().where(staff_users.c.id == people["eva"].id).values(language="ro"))
    assert await _badge(app, people["eva"].email) == "1 în așteptare"


async def test_no_badge_when_nobody_waits(app, create_staff, create_organisation) -> None:
    user = await create_staff("organiser", await create_organisation())
    assert await _badge(app, user.email) is None


async def _turn_off(app, email: str) -> None:
    http = browser(app)
    assert (await login_staff(http, email)).status_code == 303
    page = await http.get("/admin/account")
    assert 'id="approval_digest" name="approval_digest" type="checkbox" value="on" checked' in page.text
    token = await csrf_for(http, "/admin/account")
    done = await http.post("/admin/account/approval-digest", data={"csrf_token": token})
    assert done.status_code == 303 and 'id="digest-saved"' in (await http.get(done.headers["location"])).text
    assert 'name="approval_digest" type="checkbox" value="on">' in (await http.get("/admin/account")).text
    await http.aclose()


async def _digests(db) -> list[str]:
    async with db.connection() as conn:
        rows = await conn.fetch_all(outbox.select().where(outbox.c.kind == "approvals_digest").order_by(outbox.c.id))
    return [r["to_address"] for r in rows]


async def test_the_digest_goes_once_a_day_to_each_organiser_with_someone_waiting(
    app, db, waiting, smtp_server, smtp_settings
) -> None:
    clock, people = waiting
    await _turn_off(app, people["off"].email)
    ctx = Context.of(app)
    await digest.digest_pass(ctx)
    assert await _digests(db) == []  # 07:30 in Bucharest: not yet

    clock.to(MORNING)
    owners = [jobs.new_owner(), jobs.new_owner()]  # two workers' passes at the same moment, then again
    await asyncio.gather(*(jobs._pass(digest.JOB, ctx, owner) for owner in owners))
    await asyncio.gather(digest.send_digests(ctx, MORNING), digest.send_digests(ctx, MORNING))  # even without lease
    sent = await _digests(db)
    expected = {people["ana"].email, people["ion"].email, people["eva"].email}
    assert sorted(sent) == sorted(expected)  # once each; not the one who turned it off, nor the operator

    await deliver_due(smtp_settings, db, compose_queued)
    mail = next(m.message for m in smtp_server.messages if m.rcpt_tos == [people["ana"].email])
    assert mail["Subject"] == "3 registrations wait for your approval"
    text = mail.get_body(("plain",)).get_content()
    assert "Curs mare" in text and "2 waiting" in text and "Curs mic" in text and "1 waiting" in text
    assert re.search(r"http://testserver/admin/events/\d+/registrants\?status=pending", text)

    clock.to(MORNING + dt.timedelta(hours=15))  # 23:05 the same day in Bucharest
    await digest.send_digests(ctx, clock.at)
    assert len(await _digests(db)) == 3
    clock.to(MORNING + dt.timedelta(hours=17))  # 01:05 the next day: before the hour
    await digest.digest_pass(ctx)
    assert len(await _digests(db)) == 3
    clock.to(MORNING + dt.timedelta(days=1))
    await digest.send_digests(ctx, clock.at)
    assert sorted(await _digests(db)) == sorted([*expected, *expected])  # the next day's, once each again


async def test_no_digest_when_nobody_waits(app, db, create_staff, create_organisation, monkeypatch) -> None:
    MovedClock(monkeypatch).to(MORNING)
    await create_staff("organiser", await create_organisation())
    assert await digest.send_digests(Context.of(app), MORNING) == 0
    assert await _digests(db) == []
