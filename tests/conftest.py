"""Shared fixtures: the app on SQLite and PostgreSQL, an HTTP client, and factories for test data."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import Secret

from webinar import migrate
from webinar.accounts import passwords, staff
from webinar.app import create_app
from webinar.clock import now
from webinar.db import DB
from webinar.events import services as event_services
from webinar.events.services import DEFAULT_CONSENT_TEXT, EventInput
from webinar.settings import Settings
from webinar.tables import metadata, organisations

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
STAFF_PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _pg_reachable(url: str) -> str | None:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


@pytest.fixture(scope="session")
def pg_url() -> Any:
    """A fresh PostgreSQL database for this test run, migrated once; dropped at the end."""
    base = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
    problem = asyncio.run(_pg_reachable(base))
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {base} is not reachable in CI: {problem}")
        pytest.skip(f"PostgreSQL at {base} is not reachable ({problem}); set TEST_DATABASE_URL to run these tests")
    name = f"webinar_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = _with_database(base, name)
    migrate.upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


TRUNCATE = ", ".join(t.name for t in reversed(metadata.sorted_tables))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test runs on both engines: a copied SQLite file, or the emptied PostgreSQL test database."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")

    async def empty() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"TRUNCATE {TRUNCATE} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    asyncio.run(empty())
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=Secret("test-secret-key-" + "x" * 40),
        base_url="http://testserver",
        var_dir=tmp_path / "var",
        run_background=False,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def db(app: Starlette) -> DB:
    database: DB = app.state.db
    return database


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def csrf_for(client: httpx.AsyncClient, path: str) -> str:
    """Open a page and return the CSRF token of its form."""
    response = await client.get(path)
    assert response.status_code == 200, response.text[:500]
    return csrf_from(response.text)


@pytest.fixture
def create_organisation(db: DB) -> Callable[..., Awaitable[int]]:
    async def factory(**overrides: Any) -> int:
        n = uuid.uuid4().hex[:8]
        values = {"name": f"Organizația {n}", "slug": f"org-{n}", "contact_email": f"dpo-{n}@example.org"}
        values.update(overrides)
        async with db.transaction() as conn:
            return await conn.fetch_val(  # type: ignore[no-any-return]
                organisations.insert().values(**values, created_at=now()).returning(organisations.c.id)
            )

    return factory


def event_input(organisation_id: int, **overrides: Any) -> EventInput:
    """A valid event starting in a week, open for registration, with every field overridable."""
    start = now().replace(microsecond=0) + dt.timedelta(days=7)
    values: dict[str, Any] = {
        "organisation_id": organisation_id,
        "title": "Conferința Națională de Științe",
        "slug": f"conf-{uuid.uuid4().hex[:8]}",
        "description": "O conferință despre știință.",
        # English pages by default, so tests can assert the source strings; tests/webinar/test_i18n.py covers "ro".
        "language": "en",
        "timezone": "Europe/Bucharest",
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=2),
        "registration_opens_at": None,
        "registration_closes_at": None,
        "doors_open_minutes": 30,
        "stream_url": "https://stream.example.org/live/index.m3u8",
        "embed_url": "",
        "capacity": None,
        "approval": "auto",
        "login": "link",
        "field_job_title": "optional",
        "field_member_id": "hidden",
        "field_organisation": "optional",
        "field_phone": "hidden",
        "min_age": 16,
        "retention_days": 90,
        "listed": True,
        "waitlist": False,
        "attendance_minutes": None,
        "presence_checks": 0,
        "replay_url": "",
        "replay_until": None,
        "credits": "",
        "certificates": False,
        "certificate_series": "",
        "consent_text_ro": DEFAULT_CONSENT_TEXT["ro"],
        "consent_text_en": "",  # an English page shows the Romanian text (tests/webinar/test_consent_languages.py)
    }
    values.update(overrides)
    return EventInput(**values)


@pytest.fixture
def create_event(db: DB, create_organisation: Callable[..., Awaitable[int]]) -> Callable[..., Awaitable[int]]:
    """Factory: `await create_event(title=..., capacity=...)` returns the new event's id."""

    async def factory(**overrides: Any) -> int:
        org_id = overrides.pop("organisation_id", None) or await create_organisation()
        async with db.transaction() as conn:
            return await event_services.create_event(conn, event_input(org_id, **overrides))

    return factory


@pytest.fixture
def create_staff(db: DB) -> Callable[..., Awaitable[staff.StaffUser]]:
    """Factory: a staff account with the password STAFF_PASSWORD."""

    async def factory(role: str = "operator", organisation_id: int | None = None, email: str | None = None) -> Any:
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        password_hash = await passwords.hash_password(STAFF_PASSWORD)
        async with db.transaction() as conn:
            user_id = await staff.create(
                conn, email=email, password_hash=password_hash, role=role, organisation_id=organisation_id
            )
            return await staff.by_id(conn, user_id)

    return factory


async def login_staff(client: httpx.AsyncClient, email: str, password: str = STAFF_PASSWORD) -> httpx.Response:
    """Log in through the real form; the client keeps the session cookie."""
    token = await csrf_for(client, "/admin/login")
    return await client.post("/admin/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def operator_client(
    client: httpx.AsyncClient, create_staff: Callable[..., Awaitable[staff.StaffUser]]
) -> Callable[[], Awaitable[httpx.AsyncClient]]:
    """`http = await operator_client()` logs the client in as a new operator."""

    async def login() -> httpx.AsyncClient:
        user = await create_staff("operator")
        response = await login_staff(client, user.email)
        assert response.status_code == 303, response.text[:500]
        return client

    return login


@pytest.fixture
def create_registration(db: DB) -> Callable[..., Awaitable[int]]:
    """Factory: a registration row for an event (no e-mail, no consent records); returns its id."""
    from webinar.tables import registrations
    from webinar.text import normalise_email, search_key

    async def factory(event_id: int, **overrides: Any) -> int:
        n = uuid.uuid4().hex[:8]
        values: dict[str, Any] = {
            "email": f"participant-{n}@example.org",
            "first_name": "Ștefan",
            "last_name": "Popescu",
            "status": "approved",
            "language": "ro",
        }
        values.update(overrides)
        values.setdefault("email_normalised", normalise_email(values["email"]))
        values.setdefault("search_text", search_key(values["first_name"], values["last_name"], values["email"]))
        at = now()
        async with db.transaction() as conn:
            return await conn.fetch_val(  # type: ignore[no-any-return]
                registrations.insert()
                .values(event_id=event_id, created_at=at, updated_at=at, **values)
                .returning(registrations.c.id)
            )

    return factory


@pytest.fixture
def create_viewing_session(db: DB) -> Callable[..., Awaitable[int]]:
    """Factory: a viewing session `(event_id, registration_id, started_at, ended_at=None, ...)`; returns its id."""
    from webinar.tables import viewing_sessions

    async def factory(
        event_id: int,
        registration_id: int,
        started_at: dt.datetime,
        ended_at: dt.datetime | None = None,
        end_reason: str | None = None,
        ip: str = "127.0.0.1",
        **overrides: Any,
    ) -> int:
        values: dict[str, Any] = {
            "event_id": event_id,
            "registration_id": registration_id,
            "started_at": started_at,
            "last_seen_at": ended_at or started_at,
            "ended_at": ended_at,
            "end_reason": end_reason or ("logout" if ended_at else None),
            "ip": ip,
            "user_agent": "Mozilla/5.0 (test)",
        }
        values.update(overrides)
        async with db.transaction() as conn:
            return await conn.fetch_val(  # type: ignore[no-any-return]
                viewing_sessions.insert().values(**values).returning(viewing_sessions.c.id)
            )

    return factory


class SMTPRecorder:
    """An aiosmtpd handler that keeps every message it receives, or answers with `refuse_with` when set."""

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.refuse_with: str | None = None  # e.g. "421 Try again later" or "550 No such user"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email
        import email.policy

        if self.refuse_with:
            return self.refuse_with
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class ReceivedMail:
    """One message as the SMTP server got it: the envelope and the parsed message."""

    def __init__(self, mail_from: str, rcpt_tos: list[str], message: Any) -> None:
        self.mail_from = mail_from
        self.rcpt_tos = rcpt_tos
        self.message = message


class SMTPServer:
    """A real SMTP server on 127.0.0.1 for the duration of a test."""

    def __init__(self, host: str, port: int, handler: SMTPRecorder) -> None:
        self.host, self.port, self.handler = host, port, handler

    @property
    def messages(self) -> list[ReceivedMail]:
        return self.handler.messages


@contextlib.contextmanager
def running_smtp(handler: SMTPRecorder, **options: Any) -> Iterator[SMTPServer]:
    """A real aiosmtpd server with `handler` on a free loopback port while the block runs (`options` go to its
    Controller: an authenticator, say)."""
    from aiosmtpd.controller import Controller

    from tests.servers import free_port

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SMTPServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A real aiosmtpd server on a free port; `smtp_server.handler.refuse_with = "421 …"` makes it refuse."""
    with running_smtp(SMTPRecorder()) as server:
        yield server


@pytest.fixture
def smtp_settings(settings: Settings, smtp_server: SMTPServer) -> Settings:
    """The test settings with MAIL_BACKEND=smtp pointing at the test SMTP server."""
    return settings.with_overrides(
        mail_backend="smtp",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_timeout=5.0,
        mail_from="Webinar <no-reply@webinar.test>",
    )
