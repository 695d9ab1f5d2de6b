"""Staff accounts (operators and organisers): SQL and the changes made to them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from databases.core import Connection

from webinar.clock import now
from webinar.db import to_dataclass
from webinar.tables import organisations, staff_users
from webinar.text import normalise_email

ROLES = ("operator", "organiser")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128


@dataclass(frozen=True)
class StaffUser:
    id: int
    email: str
    role: str
    organisation_id: int | None
    language: str
    is_active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    totp_confirmed_at: dt.datetime | None = None  # set while two-factor sign-in is on (admin/twofactor.py)
    approval_digest: bool = True  # the daily e-mail of registrations waiting for approval (organisers)
    device_generation: int = 0  # moved on by "log out everywhere": older device cookies are no longer known

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @property
    def has_two_factor(self) -> bool:
        return self.totp_confirmed_at is not None


async def by_id(conn: Connection, user_id: int) -> StaffUser | None:
    """An active staff user by id."""
    row = await conn.fetch_one(staff_users.select().where(staff_users.c.id == user_id, staff_users.c.is_active))
    return to_dataclass(StaffUser, row) if row else None


async def credentials(conn: Connection, email: str) -> tuple[StaffUser, str] | None:
    """An active staff user and their password hash, by e-mail address."""
    row = await conn.fetch_one(
        staff_users.select().where(staff_users.c.email_normalised == normalise_email(email), staff_users.c.is_active)
    )
    return (to_dataclass(StaffUser, row), row["password_hash"]) if row else None


async def email_taken(conn: Connection, email: str) -> bool:
    """Whether a staff account already uses this address."""
    query = sa.select(staff_users.c.id).where(staff_users.c.email_normalised == normalise_email(email))
    return await conn.fetch_one(query) is not None


async def create(
    conn: Connection, *, email: str, password_hash: str, role: str, organisation_id: int | None, language: str = "en"
) -> int:
    """Store a new staff account; returns its id."""
    user_id: int = await conn.fetch_val(
        staff_users.insert()
        .values(
            email=email.strip(),
            email_normalised=normalise_email(email),
            password_hash=password_hash,
            role=role,
            organisation_id=organisation_id if role == "organiser" else None,
            language=language,
            created_at=now(),
        )
        .returning(staff_users.c.id)
    )
    return user_id


async def set_password(conn: Connection, user_id: int, password_hash: str) -> None:
    """Replace a staff user's password hash."""
    await conn.execute(staff_users.update().where(staff_users.c.id == user_id).values(password_hash=password_hash))


async def password_hash(conn: Connection, user_id: int, lock: bool = False) -> str | None:
    """An active staff user's password hash (the row locked for the caller's transaction when `lock`)."""
    query = sa.select(staff_users.c.password_hash).where(staff_users.c.id == user_id, staff_users.c.is_active)
    found: str | None = await conn.fetch_val(query.with_for_update() if lock else query)
    return found


async def forget_devices(conn: Connection, user_id: int) -> None:
    """Make every device cookie given to this staff user so far unknown (admin/signin.py)."""
    await conn.execute(
        staff_users.update()
        .where(staff_users.c.id == user_id)
        .values(device_generation=staff_users.c.device_generation + 1)
    )


async def set_approval_digest(conn: Connection, user_id: int, on: bool) -> None:
    """Turn a staff user's daily e-mail of registrations waiting for approval on or off."""
    await conn.execute(staff_users.update().where(staff_users.c.id == user_id).values(approval_digest=on))


async def record_login(conn: Connection, user_id: int) -> None:
    """Remember when a staff user last logged in."""
    await conn.execute(staff_users.update().where(staff_users.c.id == user_id).values(last_login_at=now()))


@dataclass(frozen=True)
class StaffListItem:
    id: int
    email: str
    role: str
    organisation_name: str | None
    is_active: bool
    last_login_at: dt.datetime | None


async def all_users(conn: Connection) -> list[StaffListItem]:
    """Every staff account with its organisation's name."""
    rows = await conn.fetch_all(
        sa.select(
            staff_users.c.id,
            staff_users.c.email,
            staff_users.c.role,
            organisations.c.name.label("organisation_name"),
            staff_users.c.is_active,
            staff_users.c.last_login_at,
        )
        .outerjoin(organisations, organisations.c.id == staff_users.c.organisation_id)
        .order_by(staff_users.c.email_normalised)
    )
    return [to_dataclass(StaffListItem, r) for r in rows]


async def set_language(conn: Connection, user_id: int, language: str) -> None:
    """Change the language a staff user reads the back office in."""
    await conn.execute(staff_users.update().where(staff_users.c.id == user_id).values(language=language))
