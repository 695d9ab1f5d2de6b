"""attendance.csv / .xlsx over HTTP on both engines (PostgreSQL through COPY): minutes live as the union of a person's
sessions clipped to the live window, replay apart, presence checks, the verdict, the exact rows (SPEC §13)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from tests.reports.conftest import StaffClient, parse_csv, parse_xlsx
from webinar.attendance import queries as attendance
from webinar.db import DB
from webinar.events import queries as event_queries
from webinar.presence import services as presence
from webinar.tables import audit_log, evaluation_results, events, presence_checks, registrations

HEADER = [
    "Email", "First name", "Last name", "Member ID", "Organisation", "Minutes live", "Minutes replay",
    "Presence checks", "Presence answered", "Qualifies", "Certificate",
]  # fmt: skip
S = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)  # the live window: 10:00–12:00 UTC
E = S + dt.timedelta(hours=2)


def m(minutes: float) -> dt.datetime:
    """A moment `minutes` after the start."""
    return S + dt.timedelta(minutes=minutes)


async def _event(create_organisation: Any, create_event: Any, **fields: Any) -> tuple[int, int]:
    org = await create_organisation()
    values = {"starts_at": S, "ends_at": E, "attendance_minutes": 60, "presence_checks": 0} | fields
    return org, await create_event(organisation_id=org, **values)


async def _person(create_registration: Any, event_id: int, n: int, **fields: Any) -> int:
    values = {"email": f"p{n}@example.org", "first_name": "Ștefan", "last_name": f"Popescu{n}", "member_id": f"M-{n}"}
    return await create_registration(event_id, **(values | fields))


async def _check(db: DB, event_id: int, reg: int, number: int, answered_after: float | None) -> None:
    due = m(10 * number)
    async with db.transaction() as conn:
        await conn.execute(
            presence_checks.insert().values(
                event_id=event_id, registration_id=reg, number=number, due_at=due,
                answer_by=due + dt.timedelta(seconds=60), shown_at=due,
                answered_at=None if answered_after is None else due + dt.timedelta(seconds=answered_after),
            )
        )  # fmt: skip


async def test_minutes_live_are_the_union_of_sessions_clipped_to_the_live_window(
    db: DB, staff_client: StaffClient, create_organisation, create_event, create_registration, create_viewing_session
) -> None:
    org, event_id = await _event(create_organisation, create_event)
    session = create_viewing_session
    # Two devices at once: 10–40 and 30–70 count once, 60 minutes: qualifies.
    two = await _person(create_registration, event_id, 1, organisation="Spitalul Județean")
    await session(event_id, two, m(10), m(40))
    await session(event_id, two, m(30), m(70))
    # Crossing the start (from 20 min before to 15 after) and the end (10 before to 30 after): 25 minutes.
    crossing = await _person(create_registration, event_id, 2)
    await session(event_id, crossing, m(-20), m(15))
    await session(event_id, crossing, m(110), m(150))
    # A session inside another, and one still open (counted to its last heartbeat): 40 + 10 minutes.
    nested = await _person(create_registration, event_id, 3)
    await session(event_id, nested, m(10), m(50))
    await session(event_id, nested, m(20), m(30))
    await session(event_id, nested, m(100), None, last_seen_at=m(110))
    # Only the replay (after the end): never live.
    replay = await _person(create_registration, event_id, 4)
    await session(event_id, replay, E + dt.timedelta(hours=1), E + dt.timedelta(hours=1, minutes=45), kind="replay")
    # The whole programme, with a gap of ten minutes: 110 minutes, and 30 of replay beside it.
    whole = await _person(create_registration, event_id, 5, member_id="=HYPERLINK(1)")
    await session(event_id, whole, m(0), m(50))
    await session(event_id, whole, m(60), m(120))
    await session(event_id, whole, E + dt.timedelta(days=1), E + dt.timedelta(days=1, minutes=30), kind="replay")
    await _person(create_registration, event_id, 6)  # no session at all
    pending = await _person(create_registration, event_id, 7, status="pending")
    await session(event_id, pending, m(0), m(120))  # not approved: not in the report
    http = await staff_client("organiser", org)
    rows = parse_csv(await http.get(f"/admin/events/{event_id}/reports/attendance.csv"))
    assert rows == [
        HEADER,
        ["p1@example.org", "Ștefan", "Popescu1", "M-1", "Spitalul Județean", "60", "0", "0", "0", "yes", ""],
        ["p2@example.org", "Ștefan", "Popescu2", "M-2", "", "25", "0", "0", "0", "no", ""],
        ["p3@example.org", "Ștefan", "Popescu3", "M-3", "", "50", "0", "0", "0", "no", ""],
        ["p4@example.org", "Ștefan", "Popescu4", "M-4", "", "0", "45", "0", "0", "no", ""],
        ["p5@example.org", "Ștefan", "Popescu5", "'=HYPERLINK(1)", "", "110", "30", "0", "0", "yes", ""],
        ["p6@example.org", "Ștefan", "Popescu6", "M-6", "", "0", "0", "0", "0", "no", ""],
    ]
    semicolon = parse_csv(await http.get(f"/admin/events/{event_id}/reports/attendance.csv?sep=semicolon"), ";")
    assert semicolon[0] == HEADER and semicolon[1:] == rows[1:]
    _sheet, cells = parse_xlsx(await http.get(f"/admin/events/{event_id}/reports/attendance.xlsx"))
    assert cells[0] == HEADER and cells[1][:10] == ["p1@example.org", "Ștefan", "Popescu1", "M-1",
                                                    "Spitalul Județean", 60, 0, 0, 0, "yes"]  # fmt: skip
    async with db.connection() as conn:
        audits = await conn.fetch_all(
            sa.select(audit_log.c.details_json).where(audit_log.c.action == "report.exported")
        )
    assert len(audits) == 3 and all('"report": "attendance"' in a[0] and '"rows": 6' in a[0] for a in audits)


async def test_a_server_restart_in_the_middle_closes_at_the_last_heartbeat_and_counts_both_halves(
    db: DB, create_organisation, create_event, create_registration, create_viewing_session
) -> None:
    _org, event_id = await _event(create_organisation, create_event, ends_at=dt.datetime.now(dt.UTC))
    async with db.connection() as conn:
        event = await event_queries.by_id(conn, event_id)
    assert event is not None
    reg = await _person(create_registration, event_id, 1)
    # The server died while the page was open: the session stays open, last seen at 30 minutes…
    await create_viewing_session(event_id, reg, m(0), None, last_seen_at=m(30))
    # …the page reconnected to the restarted server after more than 90 s, as a new session.
    await create_viewing_session(event_id, reg, m(32), m(60))
    assert await presence.sweep(db, 90) == 1  # the sweeper closes the first one at its last heartbeat
    async with db.connection() as conn:
        verdict = await attendance.verdict_of(conn, event, reg)
    assert verdict is not None and verdict.minutes_live == 58 and verdict.qualifies is False


async def test_presence_checks_count_only_when_answered_in_time_and_every_one_is_needed(
    db: DB, staff_client: StaffClient, create_organisation, create_event, create_registration, create_viewing_session
) -> None:
    org, event_id = await _event(create_organisation, create_event, attendance_minutes=None, presence_checks=2)
    good, late, absent = [await _person(create_registration, event_id, n) for n in (1, 2, 3)]
    for reg in (good, late, absent):
        await create_viewing_session(event_id, reg, m(0), m(120))
    await _check(db, event_id, good, 1, 5)
    await _check(db, event_id, good, 2, 59)
    await _check(db, event_id, late, 1, 20)
    await _check(db, event_id, late, 2, 61)  # after 60 s: missed
    await _check(db, event_id, absent, 1, None)
    http = await staff_client("organiser", org)
    rows = parse_csv(await http.get(f"/admin/events/{event_id}/reports/attendance.csv"))
    assert [row[5:10] for row in rows[1:]] == [
        ["120", "0", "2", "2", "yes"],
        ["120", "0", "2", "1", "no"],
        ["120", "0", "1", "0", "no"],
    ]
    page = await http.get(f"/admin/events/{event_id}")
    assert '<div class="stat" id="qualifying"><strong>1</strong>' in page.text
    registrant = await http.get(f"/admin/events/{event_id}/registrants/{late}")
    assert "1 of 2" in registrant.text and "late (missed)" in registrant.text and "does not qualify" in registrant.text


async def test_erased_registrants_are_not_reported(
    db: DB, staff_client: StaffClient, create_organisation, create_event, create_registration, create_viewing_session
) -> None:
    org, event_id = await _event(create_organisation, create_event)
    gone = await _person(create_registration, event_id, 1)
    await create_viewing_session(event_id, gone, m(0), m(120))
    async with db.transaction() as conn:
        await conn.execute(
            registrations.update()
            .where(registrations.c.id == gone)
            .values(email=None, email_normalised=None, first_name=None, last_name=None,
                    erased_at=dt.datetime.now(dt.UTC))
        )  # fmt: skip
    http = await staff_client("organiser", org)
    assert parse_csv(await http.get(f"/admin/events/{event_id}/reports/attendance.csv")) == [HEADER]


async def test_with_a_final_evaluation_the_score_and_passed_come_before_certificate_on_every_path(
    db: DB, staff_client: StaffClient, create_organisation, create_event, create_registration, create_viewing_session
) -> None:
    org, event_id = await _event(create_organisation, create_event)
    async with db.transaction() as conn:
        await conn.execute(events.update().where(events.c.id == event_id).values(evaluation=True))
    passed, failed, skipped = [await _person(create_registration, event_id, n) for n in (1, 2, 3)]
    for reg in (passed, failed, skipped):
        await create_viewing_session(event_id, reg, m(0), m(120))
    async with db.transaction() as conn:
        for reg, score, ok in ((passed, 100, True), (failed, 33, False)):
            await conn.execute(
                evaluation_results.insert().values(
                    event_id=event_id, registration_id=reg, score=score, passed=ok, submitted_at=E
                )
            )
    http = await staff_client("organiser", org)
    header = [*HEADER[:-1], "Evaluation score", "Passed", "Certificate"]
    rows = parse_csv(await http.get(f"/admin/events/{event_id}/reports/attendance.csv"))
    assert rows[0] == header
    assert [row[9:] for row in rows[1:]] == [["yes", "100", "yes", ""], ["yes", "33", "no", ""], ["yes", "", "no", ""]]
    semicolon = parse_csv(await http.get(f"/admin/events/{event_id}/reports/attendance.csv?sep=semicolon"), ";")
    assert semicolon == rows
    _sheet, cells = parse_xlsx(await http.get(f"/admin/events/{event_id}/reports/attendance.xlsx"))
    assert cells[0] == header
    assert [row[9:12] for row in cells[1:]] == [["yes", 100, "yes"], ["yes", 33, "no"], ["yes", None, "no"]]
