"""The three exports as CSV and XLSX, driven over HTTP: headers, encoding, quoting, safety, intervals, time zones."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from tests.reports.conftest import Setup, StaffClient, parse_csv, parse_xlsx
from webinar.db import DB
from webinar.tables import audit_log, consent_records, registrations

UTC = dt.UTC
REGISTERED_HEADER = [
    "Email", "First name", "Last name", "Job title", "Member ID", "Organisation", "Phone", "Status",
    "Registered at", "Consent given at", "Marketing opt-in",
]  # fmt: skip
ACTIVE_HEADER = [
    "Email",
    "First name",
    "Last name",
    "Organisation",
    "Sessions",
    "First login",
    "Last logout",
    "Minutes watched",
]
TRAFFIC_HEADER = ["Email", "First name", "Last name", "Login at", "Logout at", "Minutes", "IP address", "End reason"]
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0LXNhbHQ$NEVER-IN-AN-EXPORT"


def url(setup: Setup, name: str) -> str:
    return f"/admin/events/{setup.event_id}/reports/{name}"


async def add_consent(db: DB, registration_id: int, event_id: int, at: dt.datetime) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            consent_records.insert().values(
                registration_id=registration_id, event_id=event_id, purpose="processing", action="given",
                text_version=1, text_sha256="0" * 64, recorded_at=at, ip="10.0.0.1", user_agent="test",
            )
        )  # fmt: skip


async def erase(db: DB, registration_id: int) -> None:
    """What an erasure leaves: the row without identity (as webinar.privacy does it)."""
    async with db.transaction() as conn:
        await conn.execute(
            registrations.update()
            .where(registrations.c.id == registration_id)
            .values(email=None, email_normalised=None, first_name=None, last_name=None, search_text="",
                    status="cancelled", erased_at=dt.datetime(2026, 1, 1, tzinfo=UTC))
        )  # fmt: skip


async def test_registered_csv_has_the_exact_header_bom_crlf_and_safe_cells(
    setup: Setup, staff_client: StaffClient, create_registration: Any, db: DB
) -> None:
    tricky = await create_registration(
        setup.event_id, email="ana@example.org", first_name="Ana, \"Ani\"", last_name="Line\nbreak",
        organisation="Școala Națională „Ștefan cel Mare” — ă î â ș ț", job_title="=HYPERLINK(\"http://evil.example\",\"x\")",
        phone="+40 712 345 678", member_id="@SUM(A1)", status="approved", marketing_opt_in=True,
        password_hash=PASSWORD_HASH,
    )  # fmt: skip
    await add_consent(db, tricky, setup.event_id, dt.datetime(2026, 11, 22, 12, 5, tzinfo=UTC))
    await create_registration(setup.event_id, email="b@example.org", status="pending", password_hash=PASSWORD_HASH)
    await erase(db, await create_registration(setup.event_id, email="gone@example.org"))
    http = await staff_client("organiser", setup.organisation_id)
    response = await http.get(url(setup, "registered.csv"))
    assert response.headers["content-disposition"] == f'attachment; filename="{setup.slug}-registered.csv"'
    assert PASSWORD_HASH.encode() not in response.content and b"argon2" not in response.content
    rows = parse_csv(response)
    assert rows[0] == REGISTERED_HEADER
    assert len(rows) == 3  # header + two people; the erased registration is left out
    ana = rows[1]
    assert ana[:3] == ["ana@example.org", 'Ana, "Ani"', "Line\nbreak"]
    assert ana[3] == '\'=HYPERLINK("http://evil.example","x")'
    assert ana[4] == "'@SUM(A1)" and ana[6] == "'+40 712 345 678"
    assert ana[5] == "Școala Națională „Ștefan cel Mare” — ă î â ș ț"
    assert ana[7] == "approved"
    assert ana[9] == "2026-11-22 14:05:00+02:00"  # consent time in Bucharest (EET)
    assert ana[10] == "yes" and rows[2][10] == "no"
    assert rows[2][9] == ""  # no consent record
    registered_at = dt.datetime.fromisoformat(ana[8])
    assert registered_at.utcoffset() in (dt.timedelta(hours=2), dt.timedelta(hours=3))
    assert b'"Ana, ""Ani"""' in response.content  # RFC 4180: quoted, inner quotes doubled


async def test_semicolon_separator_and_unknown_separator(
    setup: Setup, staff_client: StaffClient, create_registration: Any, create_viewing_session: Any
) -> None:
    reg = await create_registration(setup.event_id, first_name="Ion; Ion", last_name="Pop")
    start = dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    await create_viewing_session(setup.event_id, reg, start, start + dt.timedelta(seconds=90), "left")
    http = await staff_client("organiser", setup.organisation_id)
    rows = parse_csv(await http.get(url(setup, "registered.csv?sep=semicolon")), delimiter=";")
    assert rows[0] == REGISTERED_HEADER and rows[1][1] == "Ion; Ion"
    traffic = parse_csv(await http.get(url(setup, "traffic.csv?sep=semicolon")), delimiter=";")
    assert traffic[1][5] == "1,5"  # EU-locale Excel reads a decimal comma as a number
    bad = await http.get(url(setup, "registered.csv?sep=tab"))
    assert bad.status_code == 400 and "semicolon" in bad.text


async def test_active_csv_sums_each_registrants_sessions(
    setup: Setup, staff_client: StaffClient, create_registration: Any, create_viewing_session: Any
) -> None:
    watcher = await create_registration(setup.event_id, email="w@example.org", organisation="ACME")
    await create_registration(setup.event_id, email="never@example.org")
    t0 = dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    await create_viewing_session(setup.event_id, watcher, t0, t0 + dt.timedelta(minutes=30), "logout")
    await create_viewing_session(
        setup.event_id, watcher, t0 + dt.timedelta(minutes=40), t0 + dt.timedelta(minutes=55, seconds=30), "timeout"
    )
    http = await staff_client("organiser", setup.organisation_id)
    rows = parse_csv(await http.get(url(setup, "active.csv")))
    assert rows == [
        ACTIVE_HEADER,
        [
            "w@example.org",
            "Ștefan",
            "Popescu",
            "ACME",
            "2",
            "2026-11-22 14:00:00+02:00",
            "2026-11-22 14:55:30+02:00",
            "45.5",
        ],
    ]


async def test_traffic_csv_keeps_only_sessions_overlapping_the_interval(
    setup: Setup, staff_client: StaffClient, create_registration: Any, create_viewing_session: Any
) -> None:
    reg = await create_registration(setup.event_id, email="t@example.org")
    at = dt.datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # 12:00 in Bucharest
    spans = {
        "before": (at - dt.timedelta(hours=2), at - dt.timedelta(hours=1)),
        "touching-start": (at - dt.timedelta(hours=1), at),
        "across-start": (at - dt.timedelta(minutes=10), at + dt.timedelta(minutes=10)),
        "inside": (at + dt.timedelta(minutes=20), at + dt.timedelta(minutes=30)),
        "across-end": (at + dt.timedelta(minutes=50), at + dt.timedelta(minutes=70)),
        "after": (at + dt.timedelta(hours=2), at + dt.timedelta(hours=3)),
    }
    for i, (start, end) in enumerate(spans.values()):
        await create_viewing_session(setup.event_id, reg, start, end, "logout", ip=f"192.0.2.{i}")
    http = await staff_client("organiser", setup.organisation_id)
    rows = parse_csv(await http.get(url(setup, "traffic.csv?from=2026-11-22T12:00&to=2026-11-22T13:00")))
    assert rows[0] == TRAFFIC_HEADER
    assert [r[6] for r in rows[1:]] == ["192.0.2.2", "192.0.2.3", "192.0.2.4"]
    assert rows[1] == ["t@example.org", "Ștefan", "Popescu", "2026-11-22 11:50:00+02:00", "2026-11-22 12:10:00+02:00",
                       "20.0", "192.0.2.2", "logout"]  # fmt: skip
    everything = parse_csv(await http.get(url(setup, "traffic.csv")))
    assert len(everything) == 1 + len(spans)  # no bounds: the event's whole life


async def test_traffic_times_follow_daylight_saving_in_bucharest(
    setup: Setup, staff_client: StaffClient, create_registration: Any, create_viewing_session: Any
) -> None:
    reg = await create_registration(setup.event_id)
    for day in (dt.datetime(2026, 10, 24, 10, tzinfo=UTC), dt.datetime(2026, 10, 26, 10, tzinfo=UTC),
                dt.datetime(2026, 3, 28, 10, tzinfo=UTC), dt.datetime(2026, 3, 30, 10, tzinfo=UTC)):  # fmt: skip
        await create_viewing_session(setup.event_id, reg, day, day + dt.timedelta(minutes=5), "logout")
    http = await staff_client("organiser", setup.organisation_id)
    rows = parse_csv(await http.get(url(setup, "traffic.csv")))
    assert sorted(r[3] for r in rows[1:]) == [
        "2026-03-28 12:00:00+02:00",  # EET before the last Sunday of March
        "2026-03-30 13:00:00+03:00",  # EEST after it
        "2026-10-24 13:00:00+03:00",  # EEST before the last Sunday of October
        "2026-10-26 12:00:00+02:00",  # EET after it
    ]
    # Bounds in local time on either side of the October change: each converted with its own offset.
    narrowed = parse_csv(await http.get(url(setup, "traffic.csv?from=2026-10-24T12:59&to=2026-10-26T12:01")))
    assert len(narrowed) == 3


async def test_bad_interval_is_a_400_that_names_the_format(setup: Setup, staff_client: StaffClient) -> None:
    http = await staff_client("organiser", setup.organisation_id)
    for query in ("from=22.11.2026", "to=2026-11-22 14:00", "from=2026-13-40T25:00", "from=2026-11-22T14:00:00"):
        response = await http.get(url(setup, f"traffic.csv?{query}"))
        assert response.status_code == 400, query
        assert "YYYY-MM-DDTHH:MM" in response.text
    backwards = await http.get(url(setup, "traffic.xlsx?from=2026-11-22T15:00&to=2026-11-22T14:00"))
    assert backwards.status_code == 400 and "before" in backwards.text
    page = await http.get(f"/admin/events/{setup.event_id}/traffic?from=yesterday")
    assert page.status_code == 400 and "YYYY-MM-DDTHH:MM" in page.text


async def test_unknown_report_or_format_is_404(setup: Setup, staff_client: StaffClient) -> None:
    http = await staff_client("operator")
    for name in ("passwords.csv", "registered.json", "registered.csv.exe"):
        assert (await http.get(url(setup, name))).status_code == 404, name


async def test_xlsx_exports_have_real_types_frozen_header_and_neutralised_text(
    setup: Setup, staff_client: StaffClient, create_registration: Any, create_viewing_session: Any
) -> None:
    reg = await create_registration(setup.event_id, email="x@example.org", first_name="=HYPERLINK(\"http://e.vil\")",
                                    last_name="Țuțea", password_hash=PASSWORD_HASH)  # fmt: skip
    start = dt.datetime(2026, 10, 24, 10, 0, tzinfo=UTC)
    await create_viewing_session(setup.event_id, reg, start, start + dt.timedelta(minutes=12, seconds=30), "left")
    http = await staff_client("organiser", setup.organisation_id)
    expected = {"registered": REGISTERED_HEADER, "active": ACTIVE_HEADER, "traffic": TRAFFIC_HEADER}
    for name, header in expected.items():
        response = await http.get(url(setup, f"{name}.xlsx"))
        assert response.headers["content-disposition"] == f'attachment; filename="{setup.slug}-{name}.xlsx"'
        sheet, rows = parse_xlsx(response)
        assert rows[0] == header and len(rows) == 2, name
        assert sheet.freeze_panes == "A2"
        assert rows[1][1] == '\'=HYPERLINK("http://e.vil")' and rows[1][2] == "Țuțea"
        assert all(not (isinstance(v, str) and "argon2" in v) for row in rows for v in row)
    _, traffic = parse_xlsx(await http.get(url(setup, "traffic.xlsx")))
    assert traffic[1][3] == dt.datetime(2026, 10, 24, 13, 0)  # a real datetime: naive local time (EEST)
    assert traffic[1][5] == 12.5 and traffic[1][7] == "left"
    _, active = parse_xlsx(await http.get(url(setup, "active.xlsx")))
    assert active[1][4] == 1 and isinstance(active[1][4], int)


async def test_every_export_is_audited_with_its_row_count(
    setup: Setup, staff_client: StaffClient, create_registration: Any, db: DB
) -> None:
    for _ in range(3):
        await create_registration(setup.event_id)
    http = await staff_client("organiser", setup.organisation_id)
    assert (await http.get(url(setup, "registered.csv"))).status_code == 200
    assert (await http.get(url(setup, "traffic.xlsx?from=2026-11-22T12:00"))).status_code == 200
    async with db.connection() as conn:
        rows = await conn.fetch_all(
            sa.select(audit_log).where(audit_log.c.action == "report.exported").order_by(audit_log.c.id)
        )
    assert len(rows) == 2
    first, second = (json.loads(r["details_json"]) for r in rows)
    assert first == {"report": "registered", "format": "csv", "rows": 3, "separator": ","}
    assert second["report"] == "traffic" and second["rows"] == 0 and second["from"].startswith("2026-11-22 10:00")
    assert all(r["event_id"] == setup.event_id and r["organisation_id"] == setup.organisation_id for r in rows)
    assert rows[0]["ip"] == "127.0.0.1" and rows[0]["actor"].startswith("organiser-")


async def test_many_rows_stream_across_batches(
    setup: Setup, staff_client: StaffClient, create_registration: Any, db: DB, monkeypatch: Any
) -> None:
    from reports import queries

    monkeypatch.setattr(queries, "BATCH_SIZE", 2)  # five rows → three keyset batches
    for i in range(5):
        await create_registration(setup.event_id, email=f"p{i}@example.org")
    http = await staff_client("operator")
    rows = parse_csv(await http.get(url(setup, "registered.csv")))
    assert [r[0] for r in rows[1:]] == [f"p{i}@example.org" for i in range(5)]
    active = parse_csv(await http.get(url(setup, "active.csv")))
    assert active == [ACTIVE_HEADER]


async def test_erased_registrant_keeps_session_times_without_identity(
    setup: Setup, staff_client: StaffClient, create_registration: Any, create_viewing_session: Any, db: DB
) -> None:
    reg = await create_registration(setup.event_id, email="gone@example.org", first_name="Irina")
    start = dt.datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    await create_viewing_session(
        setup.event_id, reg, start, start + dt.timedelta(minutes=3), "logout", ip="203.0.113.9"
    )
    await erase(db, reg)
    http = await staff_client("organiser", setup.organisation_id)
    traffic = parse_csv(await http.get(url(setup, "traffic.csv")))
    assert traffic[1] == ["", "", "", "2026-11-22 12:00:00+02:00", "2026-11-22 12:03:00+02:00", "3.0", "", "logout"]
    assert parse_csv(await http.get(url(setup, "active.csv"))) == [ACTIVE_HEADER]
    assert parse_csv(await http.get(url(setup, "registered.csv"))) == [REGISTERED_HEADER]
