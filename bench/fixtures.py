"""Benchmark data: a scratch database, the events, and registrants / sessions made in bulk with SQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg
from itsdangerous import Signer

from webinar.accounts import passwords
from webinar.clock import now
from webinar.db import DB
from webinar.events.services import DEFAULT_CONSENT_TEXT, EventInput, create_event
from webinar.registration.fields import default_modes
from webinar.settings import Settings
from webinar.web.cookies import COOKIE_NAME

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "bench-password-123"  # noqa: S105 - a throwaway password of a scratch database
STAFF_EMAIL = "operator@bench.example"


def scratch_url(base_url: str, name: str) -> str:
    """The URL of database `name` on the same server as `base_url`."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def recreate_database(base_url: str, name: str) -> str:
    """Drop and create the scratch database; returns its URL."""
    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return scratch_url(base_url, name)


def migrate(env: dict[str, str]) -> None:
    """`webinar migrate` on the benchmark database."""
    subprocess.run([str(BIN / "webinar"), "migrate"], env=env, check=True, cwd=ROOT, capture_output=True)


def event_input(org_id: int, slug: str, **changes: object) -> EventInput:
    start = now().replace(microsecond=0) - dt.timedelta(minutes=5)
    values: dict[str, object] = dict(
        organisation_id=org_id, title=f"Bench {slug}", slug=slug, description="Benchmark event.",
        language="ro", timezone="Europe/Bucharest", starts_at=start, ends_at=start + dt.timedelta(days=2),
        registration_opens_at=None, registration_closes_at=None, doors_open_minutes=30,
        stream_url="https://stream.example/live.m3u8", embed_url="", capacity=None, approval="auto", login="link",
        **default_modes(member_id="optional"), min_age=16, retention_days=90, listed=False, waitlist=False,
        attendance_minutes=None, presence_checks=0, replay_url="", replay_until=None,
        credits="", certificates=False, certificate_series="",
        consent_text_ro=DEFAULT_CONSENT_TEXT["ro"], consent_text_en="",
    )  # fmt: skip
    values.update(changes)
    return EventInput(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Events:
    organisation_id: int
    ids: dict[str, int]


async def create_events(settings: Settings, slugs: dict[str, dict[str, object]], staff: bool) -> Events:
    """One organisation and an event per slug (with overrides), created through the platform's own code."""
    db = DB(settings)
    await db.connect()
    try:
        async with db.transaction() as conn:
            org_id = await conn.fetch_val(
                "INSERT INTO organisations (name, slug, contact_email, created_at) "
                "VALUES ('Bench Org', 'bench', 'dpo@bench.example', :at) RETURNING id",
                {"at": now()},
            )
            ids = {slug: await create_event(conn, event_input(org_id, slug, **kw)) for slug, kw in slugs.items()}
            if staff:
                from webinar.accounts import staff as staff_accounts

                await staff_accounts.create(
                    conn, email=STAFF_EMAIL, password_hash=await passwords.hash_password(PASSWORD),
                    role="operator", organisation_id=None,
                )  # fmt: skip
    finally:
        await db.disconnect()
    return Events(org_id, ids)


REGISTRANTS_SQL = """
INSERT INTO registrations (event_id, email, email_normalised, first_name, last_name, organisation, search_text,
                           status, marketing_opt_in, token_version, language, created_at, updated_at, password_hash)
SELECT $1, 'p' || g || '@' || $2 || '.example', 'p' || g || '@' || $2 || '.example', 'Ion', 'Popescu',
       'Primăria ' || (g % 100), 'ion popescu p' || g, 'approved', g % 2 = 0, 1, 'ro',
       now() - interval '1 day', now() - interval '1 day', $4
FROM generate_series(1, $3) AS g
"""


async def add_registrants(url: str, event_id: int, tag: str, count: int, password_hash: str | None = None) -> list[int]:
    """`count` approved registrants of an event (one processing consent each); their ids in order."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(REGISTRANTS_SQL, event_id, tag, count, password_hash)
        rows = await conn.fetch("SELECT id FROM registrations WHERE event_id = $1 ORDER BY id", event_id)
        await conn.execute(
            "INSERT INTO consent_records (registration_id, event_id, purpose, action, consent_text_id, text_version,"
            " text_sha256, text_language, recorded_at, ip) SELECT r.id, r.event_id, 'processing', 'given', c.id,"
            " c.version, c.sha256, c.language, r.created_at, '10.0.0.1'"
            " FROM registrations r JOIN consent_texts c ON c.event_id = r.event_id"
            " WHERE r.event_id = $1",
            event_id,
        )
    finally:
        await conn.close()
    return [int(r["id"]) for r in rows]


# Five custom questions of the kinds organisers ask most (SPEC §11), and the answer every bench registrant gives.
QUESTIONS = (
    ("text", "Specialitatea", "", True, ["Medicină de familie"]),
    ("choice", "Secțiunea", "Dimineață\nDupă-amiază", True, ["După-amiază"]),
    ("multichoice", "Subiecte de interes", "Diabet\nHipertensiune\nVaccinare", False, ["Diabet", "Vaccinare"]),
    ("number", "Ani de practică", "", False, ["12"]),
    ("date", "Data ultimei acreditări", "", False, ["2026-03-15"]),
)


async def add_questions(url: str, event_id: int) -> str:
    """The five questions on an event; returns the URL-encoded form fields that answer them (`q_{id}`, a
    multichoice field once per option chosen)."""
    conn = await asyncpg.connect(url)
    fields: list[tuple[str, str]] = []
    try:
        for position, (kind, label, options, required, answer) in enumerate(QUESTIONS, start=1):
            question_id = await conn.fetchval(
                "INSERT INTO questions (event_id, label_ro, label_en, kind, options, required, position, created_at,"
                " updated_at) VALUES ($1, $2, $2, $3, $4, $5, $6, now(), now()) RETURNING id",
                event_id, label, kind, options, required, position,
            )  # fmt: skip
            fields += [(f"q_{question_id}", value) for value in answer]
    finally:
        await conn.close()
    return urlencode(fields)


# Tricky people for the export: quotes, separators, newlines, formulas, diacritics (both ș forms), NUL-free.
TRICKY = [
    ('a"b@x.example', 'Ana, "Ani"', "Popescu\nIonescu"),
    ("=cmd@x.example", "=1+2", "+40 721"),
    ("-minus@x.example", "@SUM(A1)", "\tTab"),
    ("semi;colon@x.example", "Ștefan;Șerban", "Țuțuianu\r\nNou"),
    ("cedilla@x.example", "Şerban", "Ţepeş"),
]


async def add_export_data(url: str, event_id: int, registrants: int, sessions: int) -> None:
    """Registrants (a few with tricky data) and `sessions` viewing sessions over them, by COPY-speed SQL."""
    await add_registrants(url, event_id, "export", registrants)
    conn = await asyncpg.connect(url)
    try:
        first = await conn.fetchval("SELECT min(id) FROM registrations WHERE event_id = $1", event_id)
        for i, (email, fname, lname) in enumerate(TRICKY):
            await conn.execute(
                "UPDATE registrations SET email = $1, first_name = $2, last_name = $3 WHERE id = $4",
                email, fname, lname, first + i,
            )  # fmt: skip
        # Sessions spread over 30 days around a DST change (last Sunday of October), some still open.
        await conn.execute(
            """
            INSERT INTO viewing_sessions (event_id, registration_id, web_session_hash, started_at, last_seen_at,
                                          ended_at, end_reason, ip, user_agent)
            SELECT $1, $2 + (g % $3), NULL, s, s + (g % 7200) * interval '1 second',
                   CASE WHEN g % 50 = 0 THEN NULL ELSE s + (g % 7200) * interval '1 second' END,
                   CASE WHEN g % 50 = 0 THEN NULL WHEN g % 3 = 0 THEN 'timeout' ELSE 'left' END,
                   '10.' || (g % 250) || '.' || (g % 200) || '.' || (g % 7), 'bench'
            FROM generate_series(1, $4) AS g,
                 LATERAL (SELECT timestamptz '2026-10-10 08:00:00+00' + (g % 2592000) * interval '1 second'
                          + (g % 1000) * interval '1 millisecond' AS s) t
            """,
            event_id, first, registrants, sessions,
        )  # fmt: skip
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def cookie_for(secret: str, raw_sid: str) -> str:
    """The session cookie a browser would send for a raw session id."""
    signed = Signer(secret, salt="webinar.session-cookie").sign(raw_sid).decode()
    return f"{COOKIE_NAME}={signed}"


async def add_attendee_sessions(url: str, secret: str, event_id: int, registration_ids: list[int]) -> list[str]:
    """A live attendee web session per registration, made in bulk; returns the cookies, in the same order."""
    raws = [secrets.token_urlsafe(32) for _ in registration_ids]
    at = now()
    rows = [
        (hashlib.sha256(raw.encode()).hexdigest(), "attendee", reg_id, event_id, at, at, at + dt.timedelta(days=1))
        for raw, reg_id in zip(raws, registration_ids, strict=True)
    ]
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "web_sessions",
            records=rows,
            columns=["id_hash", "kind", "registration_id", "event_id", "created_at", "last_seen_at", "expires_at"],
        )
    finally:
        await conn.close()
    return [cookie_for(secret, raw) for raw in raws]


ATTENDANCE_START = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)  # a four-hour live window, long over
ATTENDANCE_END = ATTENDANCE_START + dt.timedelta(hours=4)


async def add_attendance_data(url: str, event_id: int, registrants: int, sessions: int) -> None:
    """Registrants with `sessions` viewing sessions over them (about ten each: overlapping, crossing the start and the
    end, some left open, one in twenty of the replay) and three presence checks each, most answered, by SQL."""
    await add_registrants(url, event_id, "attendance", registrants)
    conn = await asyncpg.connect(url)
    try:
        first = await conn.fetchval("SELECT min(id) FROM registrations WHERE event_id = $1", event_id)
        await conn.execute(
            """
            INSERT INTO viewing_sessions (event_id, registration_id, started_at, last_seen_at, ended_at, end_reason,
                                          ip, user_agent, kind)
            SELECT $1, $2 + (g % $3), s, s + d, CASE WHEN g % 50 = 0 THEN NULL ELSE s + d END,
                   CASE WHEN g % 50 = 0 THEN NULL WHEN g % 3 = 0 THEN 'timeout' ELSE 'left' END,
                   '10.' || (g % 250) || '.' || (g % 200) || '.' || (g % 7), 'bench',
                   CASE WHEN g % 20 = 0 THEN 'replay' ELSE 'live' END
            FROM generate_series(0, $4 - 1) AS g,
                 LATERAL (SELECT CASE WHEN g % 20 = 0 THEN $6::timestamptz + interval '1 hour'
                                 ELSE $5::timestamptz - interval '10 minutes' END
                                 + (g / $3) * interval '25 minutes' + (g % 600) * interval '1 second' AS s,
                                 interval '20 minutes' + (g % 900) * interval '1 second' AS d) t
            """,
            event_id, first, registrants, sessions, ATTENDANCE_START, ATTENDANCE_END,
        )  # fmt: skip
        await conn.execute(
            """
            INSERT INTO presence_checks (event_id, registration_id, number, due_at, answer_by, shown_at, answered_at)
            SELECT $1, $2 + (g % $3), 1 + g / $3, due, due + interval '60 seconds', due,
                   CASE WHEN g % 7 = 0 THEN NULL ELSE due + (g % 70) * interval '1 second' END
            FROM generate_series(0, 3 * $3 - 1) AS g,
                 LATERAL (SELECT $4::timestamptz + (g / $3) * interval '80 minutes'
                                 + (g % 3000) * interval '1 second' AS due) t
            """,
            event_id, first, registrants, ATTENDANCE_START + dt.timedelta(minutes=10),
        )  # fmt: skip
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
