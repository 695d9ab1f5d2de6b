"""Two-factor sign-in for staff: TOTP (RFC 6238, with pyotp) and single-use recovery codes, each change one
transaction with an audit entry (docs/security.md, "Staff sign-in")."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pyotp
import segno
import sqlalchemy as sa
from databases.core import Connection

from webinar import audit
from webinar.accounts.staff import StaffUser
from webinar.clock import now
from webinar.db import DB
from webinar.settings import Settings
from webinar.tables import staff_recovery_codes, staff_users

ISSUER = "Webinar"
RECOVERY_CODES = 10
# A code of the step before or after the current one is accepted too (a clock 30 s off, a slow typist).
DRIFT_STEPS = 1
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a sheet of paper


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret (to type in), the otpauth:// address and its QR code."""

    secret: str
    uri: str
    qr_data_uri: str


@dataclass(frozen=True)
class _Secret:
    secret: str | None
    confirmed: bool
    last_step: int | None


async def _secret(conn: Connection, user_id: int, lock: bool = False) -> _Secret:
    query = sa.select(staff_users.c.totp_secret, staff_users.c.totp_confirmed_at, staff_users.c.totp_last_step).where(
        staff_users.c.id == user_id
    )
    row = await conn.fetch_one(query.with_for_update() if lock else query)
    assert row is not None
    return _Secret(row["totp_secret"], row["totp_confirmed_at"] is not None, row["totp_last_step"])


def _enrolment(secret: str, email: str) -> Enrolment:
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
    return Enrolment(secret, uri, segno.make(uri, error="m").svg_data_uri(scale=4, border=2))


def _matching_step(secret: str, code: str) -> int | None:
    """The time step `code` is right for (now, give or take DRIFT_STEPS), or None."""
    totp, at = pyotp.TOTP(secret), now()
    step = totp.timecode(at)
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == totp.digits):
        return None
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _code_hash(settings: Settings, code: str) -> str:
    normal = "".join(code.split()).replace("-", "").lower()
    return hmac.new(str(settings.secret_key).encode(), b"recovery:" + normal.encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


async def _store_codes(conn: Connection, settings: Settings, user_id: int) -> list[str]:
    await conn.execute(staff_recovery_codes.delete().where(staff_recovery_codes.c.staff_user_id == user_id))
    codes = [_new_code() for _ in range(RECOVERY_CODES)]
    at = now()
    for code in codes:
        await conn.execute(
            staff_recovery_codes.insert().values(
                staff_user_id=user_id, code_hash=_code_hash(settings, code), created_at=at
            )
        )
    return codes


async def _audit(conn: Connection, user: StaffUser, action: str, ip: str) -> None:
    await audit.record(
        conn, action, actor=user.email, actor_staff_id=user.id, organisation_id=user.organisation_id, ip=ip
    )


async def start(db: DB, user: StaffUser) -> Enrolment:
    """Begin (or show again) an enrolment: a new secret, kept unconfirmed until a code proves the app has it.
    Nothing changes for an account whose two-factor sign-in is on."""
    async with db.transaction() as conn:
        found = await _secret(conn, user.id, lock=True)
        if found.confirmed:
            raise ValueError("two-factor sign-in is already on")
        secret = found.secret or pyotp.random_base32()
        if found.secret is None:
            await conn.execute(staff_users.update().where(staff_users.c.id == user.id).values(totp_secret=secret))
    return _enrolment(secret, user.email)


async def confirm(db: DB, settings: Settings, user: StaffUser, code: str, ip: str) -> list[str] | None:
    """Turn two-factor sign-in on with a first code from the app; the recovery codes (to show once), or None for
    a wrong code."""
    async with db.transaction() as conn:
        found = await _secret(conn, user.id, lock=True)
        if found.secret is None or found.confirmed:
            return None
        step = _matching_step(found.secret, code)
        if step is None:
            return None
        await conn.execute(
            staff_users.update().where(staff_users.c.id == user.id).values(totp_confirmed_at=now(), totp_last_step=step)
        )
        codes = await _store_codes(conn, settings, user.id)
        await _audit(conn, user, "staff.two_factor_on", ip)
    return codes


async def verify(conn: Connection, settings: Settings, user_id: int, code: str) -> bool:
    """Whether `code` is a right code of this account now (each code works once) or one of its unused recovery
    codes (used up by this), inside the caller's transaction."""
    found = await _secret(conn, user_id, lock=True)
    if found.secret is None or not found.confirmed:
        return False
    step = _matching_step(found.secret, code)
    if step is not None:
        if found.last_step is not None and step <= found.last_step:
            return False  # replayed, or older than one already used
        await conn.execute(staff_users.update().where(staff_users.c.id == user_id).values(totp_last_step=step))
        return True
    used = await conn.fetch_one(
        staff_recovery_codes.update()
        .where(
            staff_recovery_codes.c.staff_user_id == user_id,
            staff_recovery_codes.c.code_hash == _code_hash(settings, code),
            staff_recovery_codes.c.used_at.is_(None),
        )
        .values(used_at=now())
        .returning(staff_recovery_codes.c.id)
    )
    return used is not None


async def regenerate(db: DB, settings: Settings, user: StaffUser, code: str, ip: str) -> list[str] | None:
    """New recovery codes (the old ones stop working), after a right code; None for a wrong one."""
    async with db.transaction() as conn:
        if not await verify(conn, settings, user.id, code):
            return None
        codes = await _store_codes(conn, settings, user.id)
        await _audit(conn, user, "staff.recovery_codes_renewed", ip)
    return codes


async def turn_off(db: DB, settings: Settings, user: StaffUser, code: str, ip: str) -> bool:
    """Turn two-factor sign-in off, after a right code (or a recovery code); False for a wrong one."""
    async with db.transaction() as conn:
        if not await verify(conn, settings, user.id, code):
            return False
        await conn.execute(
            staff_users.update()
            .where(staff_users.c.id == user.id)
            .values(totp_secret=None, totp_confirmed_at=None, totp_last_step=None)
        )
        await conn.execute(staff_recovery_codes.delete().where(staff_recovery_codes.c.staff_user_id == user.id))
        await _audit(conn, user, "staff.two_factor_off", ip)
    return True


async def codes_left(conn: Connection, user_id: int) -> int:
    """How many unused recovery codes the account has."""
    query = sa.select(sa.func.count()).where(
        staff_recovery_codes.c.staff_user_id == user_id, staff_recovery_codes.c.used_at.is_(None)
    )
    return int(await conn.fetch_val(query))
