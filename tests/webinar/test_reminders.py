"""Reminders and follow-ups (SPEC §12) on both engines with a moved clock: each once per person and offset, only to
approved registrants, never after the start, split by attendance, delivered over real SMTP with their links."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa

from tests.webinar.access_helpers import load_event
from tests.webinar.reminder_helpers import REAL_NOW, backdate, move_clock, outbox_of, queued, scheduled
from webinar.attendance.queries import attended
from webinar.db import DB
from webinar.jobs import Context, Until
from webinar.mail.sender import deliver_due
from webinar.registration import reminders
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings
from webinar.tables import evaluation_results, events, outbox

MINUTE = dt.timedelta(minutes=1)
JOIN_RE = re.compile(r"http://testserver/events/[a-z0-9-]+/join/[\w.-]+")
CANCEL_RE = re.compile(r"http://testserver/events/[a-z0-9-]+/cancel/[\w.-]+")
REMINDER = ("reminder",)
FOLLOWUPS = reminders.FOLLOWUP_KINDS

Factory = Callable[..., Awaitable[int]]


def _ctx(settings: Settings, db: DB) -> Context:
    return Context(settings, db, None)  # type: ignore[arg-type]  # queueing renders nothing


async def _event_with_everyone(create_event: Factory, create_registration: Factory, db: DB, **overrides: object):
    """An event starting in a week, three approved registrants and one in each other status, all registered a day
    ago (before any reminder's moment)."""
    event_id = await create_event(**overrides)
    approved = [await create_registration(event_id, email=f"ok{i}@example.org") for i in range(3)]
    others = [await create_registration(event_id, email=f"{s}@example.org", status=s) for s in OTHERS]
    await backdate(db, approved + others, REAL_NOW() - dt.timedelta(days=1))
    return await load_event(db, event_id), approved, others


OTHERS = ("pending", "rejected", "cancelled", "waitlisted")


async def test_each_reminder_goes_once_per_approved_person_and_offset(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, approved, _others = await _event_with_everyone(create_event, create_registration, db)
    assert event.reminders == "1440,60"  # the default
    ctx = _ctx(settings, db)

    move_clock(monkeypatch, event.starts_at - 1441 * MINUTE)  # a minute before the first reminder's moment
    wake = await reminders.queue_due(ctx, attended)
    assert await queued(db, *REMINDER) == Counter()
    assert wake == Until(60 + reminders.WAKE_MARGIN)  # the job wakes at the moment, not up to an interval late

    move_clock(monkeypatch, event.starts_at - 1440 * MINUTE)
    for _ in range(3):  # every pass of the next hours finds it done
        wake = await reminders.queue_due(ctx, attended)
    assert await queued(db, *REMINDER) == Counter({(r, "reminder"): 1 for r in approved})
    assert wake == Until(1380 * 60 + reminders.WAKE_MARGIN)  # then at the second reminder's
    assert await scheduled(db) == sorted((r, "reminder", 1440) for r in approved)

    move_clock(monkeypatch, event.starts_at - 59 * MINUTE)
    await reminders.queue_due(ctx, attended)
    await reminders.queue_due(ctx, attended)
    assert await queued(db, *REMINDER) == Counter({(r, "reminder"): 2 for r in approved})
    assert await scheduled(db) == sorted([(r, "reminder", o) for r in approved for o in (1440, 60)])
    rows = await outbox_of(db, *REMINDER)
    assert {row["expires_at"] for row in rows} == {event.starts_at}  # never sent once the event has started
    assert len({row["message_id"] for row in rows}) == 6


async def test_the_reminder_reaches_a_real_smtp_server_with_the_join_and_cancel_links_and_the_invitation(
    db: DB, smtp_settings: Settings, smtp_server, create_event: Factory, create_registration: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    event, _approved, _others = await _event_with_everyone(
        create_event, create_registration, db, reminders="60", title="Curs: ștampile & țări", language="ro"
    )
    move_clock(monkeypatch, event.starts_at - 30 * MINUTE)
    await reminders.queue_due(_ctx(smtp_settings, db), attended)
    assert await deliver_due(smtp_settings, db, compose_queued) == 3
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [f"ok{i}@example.org" for i in range(3)]
    for mail in smtp_server.messages:
        message = mail.message
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert str(message["Subject"]).startswith("Memento: Curs: ștampile & țări începe")
        assert JOIN_RE.search(text) and CANCEL_RE.search(text)
        assert JOIN_RE.search(html) and CANCEL_RE.search(html) and "&amp; țări" in html
        calendar = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        assert len(calendar) == 1 and "BEGIN:VEVENT" in calendar[0].get_content()
    # The join link in the reminder signs its registrant in.
    assert await deliver_due(smtp_settings, db, compose_queued) == 0  # and nothing goes twice


async def test_pending_rejected_cancelled_and_waitlisted_registrants_get_no_reminder(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, approved, others = await _event_with_everyone(create_event, create_registration, db, reminders="60")
    move_clock(monkeypatch, event.starts_at - 10 * MINUTE)
    await reminders.queue_due(_ctx(settings, db), attended)
    got = {reg for reg, _kind in await queued(db, *REMINDER)}
    assert got == set(approved) and not got & set(others)


async def test_someone_who_cancels_after_the_reminder_was_queued_is_not_sent_it(
    db: DB, smtp_settings: Settings, smtp_server, create_event: Factory, create_registration: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from webinar.tables import registrations

    event, approved, _others = await _event_with_everyone(create_event, create_registration, db, reminders="60")
    move_clock(monkeypatch, event.starts_at - 30 * MINUTE)
    await reminders.queue_due(_ctx(smtp_settings, db), attended)
    async with db.transaction() as conn:
        await conn.execute(registrations.update().where(registrations.c.id == approved[0]).values(status="cancelled"))
    assert await deliver_due(smtp_settings, db, compose_queued) == 2
    row = next(r for r in await outbox_of(db, *REMINDER) if r["registration_id"] == approved[0])
    assert (row["status"], row["last_error"]) == ("cancelled", "not sent: the registration is cancelled")


async def test_a_reminder_whose_moment_passed_while_down_goes_late_only_before_the_start(
    db: DB, smtp_settings: Settings, smtp_server, create_event: Factory, create_registration: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    event, approved, _others = await _event_with_everyone(create_event, create_registration, db)
    ctx = _ctx(smtp_settings, db)
    # Down from two days before until 20 minutes before the start: only the latest reminder goes, late.
    move_clock(monkeypatch, event.starts_at - 20 * MINUTE)
    await reminders.queue_due(ctx, attended)
    assert await scheduled(db) == sorted((r, "reminder", 60) for r in approved)
    # Down until after the start: nothing more is queued …
    move_clock(monkeypatch, event.starts_at + MINUTE)
    await reminders.queue_due(ctx, attended)
    assert len(await scheduled(db)) == 3
    # … and what was queued but not yet sent (the SMTP server was down too) is not sent after the start.
    assert await deliver_due(smtp_settings, db, compose_queued) == 0
    assert smtp_server.messages == []
    rows = await outbox_of(db, *REMINDER)
    assert {(r["status"], r["last_error"]) for r in rows} == {("cancelled", "not sent: the event had started")}


async def test_a_reminder_written_before_the_start_but_retried_after_it_is_not_sent(
    db: DB, smtp_settings: Settings, smtp_server, create_event: Factory, create_registration: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    event, _approved, _others = await _event_with_everyone(create_event, create_registration, db, reminders="60")
    move_clock(monkeypatch, event.starts_at - 30 * MINUTE)
    await reminders.queue_due(_ctx(smtp_settings, db), attended)
    smtp_server.handler.refuse_with = "421 4.3.2 Try again later"
    assert await deliver_due(smtp_settings, db, compose_queued) == 0  # written, refused, to be retried
    assert all(r["subject"] and r["status"] == "queued" for r in await outbox_of(db, *REMINDER))
    smtp_server.handler.refuse_with = None
    move_clock(monkeypatch, event.starts_at + 2 * MINUTE)
    assert await deliver_due(smtp_settings, db, compose_queued) == 0
    assert smtp_server.messages == []
    assert {r["status"] for r in await outbox_of(db, *REMINDER)} == {"cancelled"}


async def test_someone_who_registers_after_the_reminders_moment_gets_none_of_it(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = await load_event(db, await create_event(reminders="1440,60"))
    early = await create_registration(event.id)
    late = await create_registration(event.id)
    await backdate(db, [early], event.starts_at - 2 * dt.timedelta(days=1))
    await backdate(db, [late], event.starts_at - 30 * MINUTE)  # after the 60-minute moment
    move_clock(monkeypatch, event.starts_at - 10 * MINUTE)
    await reminders.queue_due(_ctx(settings, db), attended)
    assert await queued(db, *REMINDER) == Counter({(early, "reminder"): 1})


async def test_an_event_without_reminders_sends_none(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, _approved, _others = await _event_with_everyone(
        create_event, create_registration, db, reminders="", followup_after_minutes=None
    )
    for at in (event.starts_at - 30 * MINUTE, event.ends_at + 2 * dt.timedelta(hours=2)):
        move_clock(monkeypatch, at)
        await reminders.queue_due(_ctx(settings, db), attended)
    assert await scheduled(db) == []


async def test_two_passes_at_once_on_separate_connections_queue_each_reminder_once(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webinar.tables import registrations

    event = await load_event(db, await create_event(reminders="60"))
    async with db.transaction() as conn:
        at = REAL_NOW() - dt.timedelta(days=1)
        rows = [
            {"event_id": event.id, "email": f"p{i}@example.org", "email_normalised": f"p{i}@example.org",
             "first_name": "Ana", "last_name": "Pop", "status": "approved", "created_at": at, "updated_at": at}
            for i in range(300)
        ]  # fmt: skip
        await conn.execute(registrations.insert().values(rows))
    other = DB(settings)
    await other.connect()
    move_clock(monkeypatch, event.starts_at - 30 * MINUTE)
    try:
        for _ in range(3):
            await asyncio.gather(
                reminders.queue_reminder(db, event, 60, settings.mail_from),
                reminders.queue_reminder(other, event, 60, settings.mail_from),
                reminders.queue_due(_ctx(settings, other), attended),
            )
    finally:
        await other.disconnect()
    counts = await queued(db, *REMINDER)
    assert len(counts) == 300 and set(counts.values()) == {1}


async def test_a_pass_that_dies_midway_leaves_nothing_half_done_and_the_next_one_queues_everyone_once(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, approved, _others = await _event_with_everyone(create_event, create_registration, db, reminders="60")
    move_clock(monkeypatch, event.starts_at - 30 * MINUTE)

    async def crash(*args: object) -> None:
        raise ConnectionError("the worker died here")

    with monkeypatch.context() as patched:
        patched.setattr(reminders, "_enqueue", crash)  # after the deliveries were recorded, before the e-mails
        with pytest.raises(ConnectionError):
            await reminders.queue_due(_ctx(settings, db), attended)
    assert await scheduled(db) == [] and await queued(db, *REMINDER) == Counter()
    await reminders.queue_due(_ctx(settings, db), attended)
    await reminders.queue_due(_ctx(settings, db), attended)
    assert await queued(db, *REMINDER) == Counter({(r, "reminder"): 1 for r in approved})


async def test_follow_ups_thank_those_who_watched_and_miss_the_others_once(
    db: DB, smtp_settings: Settings, smtp_server, create_event: Factory, create_registration: Factory,
    create_viewing_session: Factory, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    event, approved, others = await _event_with_everyone(create_event, create_registration, db)
    watched, missed = approved[0], approved[1:]
    await create_viewing_session(event.id, watched, event.starts_at + MINUTE, event.starts_at + 20 * MINUTE)
    await create_viewing_session(event.id, others[0], event.starts_at, event.ends_at)  # pending: nothing at all
    ctx = _ctx(smtp_settings, db)
    move_clock(monkeypatch, event.ends_at + 59 * MINUTE)
    await reminders.queue_due(ctx, attended)
    assert await queued(db, *FOLLOWUPS) == Counter()
    move_clock(monkeypatch, event.ends_at + 60 * MINUTE)
    await reminders.queue_due(ctx, attended)
    # Watching after the follow-up was queued changes nothing: one follow-up per person.
    await create_viewing_session(event.id, missed[0], event.ends_at, event.ends_at + MINUTE)
    move_clock(monkeypatch, event.ends_at + 3 * dt.timedelta(hours=1))
    await reminders.queue_due(ctx, attended)
    expected = {(watched, "followup_attended"): 1} | {(r, "followup_missed"): 1 for r in missed}
    assert await queued(db, *FOLLOWUPS) == Counter(expected)
    assert await deliver_due(smtp_settings, db, compose_queued) == 3
    subjects = {m.rcpt_tos[0]: str(m.message["Subject"]) for m in smtp_server.messages}
    # In each registrant's language (Romanian here).
    assert subjects["ok0@example.org"] == f"Vă mulțumim că ați participat la {event.title}"
    assert (
        subjects["ok1@example.org"] == subjects["ok2@example.org"] == f"Ne pare rău că nu v-am văzut la {event.title}"
    )
    text = smtp_server.messages[0].message.get_body(("plain",)).get_content()
    assert not CANCEL_RE.search(text)  # the event is over: nothing to cancel


async def test_with_a_threshold_the_follow_up_follows_the_attendance_verdict_and_links_the_replay(
    db: DB, smtp_settings: Settings, smtp_server, create_event: Factory, create_registration: Factory,
    create_viewing_session: Factory, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    event, approved, _others = await _event_with_everyone(
        create_event, create_registration, db, attendance_minutes=30, replay_url="https://replay.example/rec.m3u8",
    )  # fmt: skip
    enough, short, two_devices = approved
    await create_viewing_session(event.id, enough, event.starts_at - 5 * MINUTE, event.starts_at + 40 * MINUTE)
    await create_viewing_session(event.id, short, event.starts_at, event.starts_at + 20 * MINUTE)  # under 30
    # Two devices at once count once: 25 minutes overlapping 25 minutes is 25, not 50.
    for _ in range(2):
        await create_viewing_session(event.id, two_devices, event.starts_at, event.starts_at + 25 * MINUTE)
    move_clock(monkeypatch, event.ends_at + 60 * MINUTE)
    await reminders.queue_due(_ctx(smtp_settings, db), attended)
    expected = {(enough, "followup_attended"): 1, (short, "followup_missed"): 1, (two_devices, "followup_missed"): 1}
    assert await queued(db, *FOLLOWUPS) == Counter(expected)
    assert await deliver_due(smtp_settings, db, compose_queued) == 3
    for message in smtp_server.messages:
        text = message.message.get_body(("plain",)).get_content()
        assert f"/events/{event.slug}/join/" in text  # the replay plays on the stream page the join link opens


async def test_a_follow_up_goes_late_for_a_week_and_not_after(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, _approved, _others = await _event_with_everyone(create_event, create_registration, db)
    move_clock(monkeypatch, event.ends_at + 60 * MINUTE + reminders.FOLLOWUP_LATE)
    await reminders.queue_due(_ctx(settings, db), attended)
    assert await queued(db, *FOLLOWUPS) == Counter()
    move_clock(monkeypatch, event.ends_at + 60 * MINUTE + reminders.FOLLOWUP_LATE - MINUTE)
    await reminders.queue_due(_ctx(settings, db), attended)
    assert len(await queued(db, *FOLLOWUPS)) == 3


async def test_the_reminders_job_is_registered_with_a_lease() -> None:
    from webinar.worker import jobs

    job = reminders.job(attended)  # the follow-ups split by the attendance rule the worker hands in
    assert job in jobs() and job.lease is not None


async def test_an_erased_registrant_gets_nothing(
    db: DB, smtp_settings: Settings, smtp_server, create_event: Factory, create_registration: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from webinar.tables import registrations

    event, approved, _others = await _event_with_everyone(create_event, create_registration, db, reminders="60")
    async with db.transaction() as conn:
        await conn.execute(
            registrations.update().where(registrations.c.id == approved[0]).values(email=None, email_normalised=None)
        )
    move_clock(monkeypatch, event.starts_at - 30 * MINUTE)
    await reminders.queue_due(_ctx(smtp_settings, db), attended)
    assert {r for r, _k in await queued(db, *REMINDER)} == set(approved[1:])
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(outbox)) == 2


async def test_the_follow_up_names_the_certificate_the_final_evaluation_makes_it(
    db: DB, smtp_settings: Settings, smtp_server, create_event: Factory, create_registration: Factory,
    create_viewing_session: Factory, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """With a final evaluation (SPEC §13) the certificate is a completion one for those who passed it and a
    participation one for those who failed or did not take it; without one it is a certificate of attendance. In
    each registrant's language, written from the pass's stencils as one by one."""
    # The same times for both: each event's default start is taken from the clock when it is created, so a second
    # that ticked between the two left the second event's follow-up a second short of due at the moved clock.
    start = REAL_NOW().replace(microsecond=0) + dt.timedelta(days=7)
    times = {"starts_at": start, "ends_at": start + dt.timedelta(hours=2)}
    evaluated, plain = await create_event(certificates=True, **times), await create_event(certificates=True, **times)
    async with db.connection() as conn:  # the evaluation is switched on on its own page
        await conn.execute(events.update().where(events.c.id == evaluated).values(evaluation=True))
    people = {
        "passed@example.org": (evaluated, "ro", True), "failed@example.org": (evaluated, "ro", False),
        "skipped@example.org": (evaluated, "ro", None), "passed-en@example.org": (evaluated, "en", True),
        "skipped-en@example.org": (evaluated, "en", None), "plain@example.org": (plain, "ro", None),
        "plain-en@example.org": (plain, "en", None),
    }  # fmt: skip
    ids = {}
    for email, (event_id, language, _passed) in people.items():
        ids[email] = await create_registration(event_id, email=email, language=language)
    await backdate(db, list(ids.values()), REAL_NOW() - dt.timedelta(days=1))
    event = await load_event(db, evaluated)
    async with db.connection() as conn:
        for email, (event_id, _language, passed) in people.items():
            await create_viewing_session(event_id, ids[email], event.starts_at, event.ends_at)
            if passed is not None:
                await conn.execute(
                    evaluation_results.insert().values(
                        event_id=event_id, registration_id=ids[email], score=90 if passed else 40, passed=passed,
                        submitted_at=event.ends_at,
                    )
                )  # fmt: skip
    move_clock(monkeypatch, event.ends_at + 60 * MINUTE)
    await reminders.queue_due(_ctx(smtp_settings, db), attended)
    assert await deliver_due(smtp_settings, db, compose_queued) == len(people)
    said = {}
    for message in smtp_server.messages:
        text = message.message.get_body(("plain",)).get_content()
        html = message.message.get_body(("html",)).get_content()
        said[message.rcpt_tos[0]] = [line for line in text.splitlines() if "ertificat" in line and "//" not in line]
        assert said[message.rcpt_tos[0]][0] in html
    assert said == {
        "passed@example.org": ["Certificatul dumneavoastră de absolvire:"],
        "failed@example.org": ["Certificatul dumneavoastră de participare:"],
        "skipped@example.org": ["Certificatul dumneavoastră de participare:"],
        "passed-en@example.org": ["Your certificate of completion:"],
        "skipped-en@example.org": ["Your certificate of participation:"],
        "plain@example.org": ["Certificatul dumneavoastră de participare:"],
        "plain-en@example.org": ["Your certificate of attendance:"],
    }
