"""Staff sign-in: the password under the login limits, the device cookie, the session; "log out everywhere"."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, TimestampSigner

from webinar import audit
from webinar.accounts import passwords, sessions, staff
from webinar.accounts.staff import StaffUser
from webinar.db import DB
from webinar.settings import Settings
from webinar.text import normalise_email
from webinar.web import logins

DEVICE_COOKIE = "webinar_device"
DEVICE_DAYS = 90  # how long a browser that signed in stays a known device of that account


@dataclass(frozen=True)
class Client:
    """Where a login comes from: the address, the browser, its current session and device cookie."""

    ip: str
    user_agent: str
    old_sid: str | None
    device_cookie: str | None


@dataclass(frozen=True)
class SignedIn:
    """A successful login: the staff member, the new session's raw id, and the device cookie to (re)set."""

    user: StaffUser
    sid: str
    device_cookie: str


def _signer(settings: Settings) -> TimestampSigner:
    return TimestampSigner(str(settings.secret_key), salt="webinar.staff-device")


def _account_tag(settings: Settings, email: str) -> str:
    digest = hmac.new(str(settings.secret_key).encode(), b"device:" + email.encode(), hashlib.sha256).hexdigest()
    return digest[:24]


def new_device(settings: Settings, email: str) -> str:
    """A device cookie's value: signed, it says "this browser signed in to the account of `email`"."""
    value = f"{_account_tag(settings, normalise_email(email))}.{secrets.token_urlsafe(16)}"
    return _signer(settings).sign(value).decode()


def known_device(settings: Settings, cookie: str | None, email: str) -> str | None:
    """The device id in `cookie` when it is a device cookie of this account, not older than DEVICE_DAYS."""
    if not cookie:
        return None
    try:
        value = _signer(settings).unsign(cookie, max_age=DEVICE_DAYS * 86400).decode()
    except BadSignature:
        return None
    tag, _, device = value.partition(".")
    return device if device and hmac.compare_digest(tag, _account_tag(settings, normalise_email(email))) else None


async def sign_in(db: DB, settings: Settings, email: str, password: str, client: Client) -> SignedIn | None:
    """Check the password under the login limits (RateLimited when this attempt must wait) and open a staff
    session; None for a wrong address or password, which counts as a failure."""
    device = known_device(settings, client.device_cookie, email)
    attempt = logins.Attempt("staff-login", email, client.ip, device)
    async with db.connection() as conn:
        await logins.check(conn, settings, attempt)
        found = await staff.credentials(conn, email) if email else None
    ok = await passwords.verify_password(found[1] if found else None, password)
    if not ok or found is None:
        async with db.connection() as conn:
            await logins.failed(conn, settings, attempt)
        return None
    user = found[0]
    async with db.transaction() as conn:
        await logins.succeeded(conn, settings, attempt)
        if client.old_sid is not None:
            await sessions.revoke(conn, client.old_sid)
        sid = await sessions.create(
            conn,
            sessions.new(
                kind="staff",
                staff_user_id=user.id,
                max_age=dt.timedelta(hours=settings.staff_session_max_hours),
                ip=client.ip,
                user_agent=client.user_agent,
            ),
        )
        await staff.record_login(conn, user.id)
        await audit.record(
            conn,
            "staff.login",
            actor=user.email,
            actor_staff_id=user.id,
            organisation_id=user.organisation_id,
            ip=client.ip,
        )
    cookie = client.device_cookie if device else new_device(settings, user.email)
    return SignedIn(user, sid, cookie or new_device(settings, user.email))


async def log_out_everywhere(db: DB, user: StaffUser, ip: str) -> None:
    """End every session of this staff member, the one asking included (audited)."""
    async with db.transaction() as conn:
        await sessions.revoke_all(conn, staff_user_id=user.id)
        await audit.record(
            conn,
            "staff.logout_everywhere",
            actor=user.email,
            actor_staff_id=user.id,
            organisation_id=user.organisation_id,
            ip=ip,
        )
