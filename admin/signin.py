"""Staff sign-in: the password under the login limits, the device cookie, the second factor, the session; "log out
everywhere"."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, TimestampSigner

from admin import twofactor
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


def _account_tag(settings: Settings, email: str, generation: int) -> str:
    # The account's device generation is part of the tag: "log out everywhere" moves it on, and every device cookie
    # given before stops being known (generation 0 keeps the tags given before generations existed).
    account = b"device:" + email.encode() + (f":{generation}".encode() if generation else b"")
    return hmac.new(str(settings.secret_key).encode(), account, hashlib.sha256).hexdigest()[:24]


def new_device(settings: Settings, email: str, generation: int = 0) -> str:
    """A device cookie's value: signed, it says "this browser signed in to the account of `email`"."""
    value = f"{_account_tag(settings, normalise_email(email), generation)}.{secrets.token_urlsafe(16)}"
    return _signer(settings).sign(value).decode()


def known_device(settings: Settings, cookie: str | None, email: str, generation: int = 0) -> str | None:
    """The device id in `cookie` when it is a device cookie of this account's current device generation, not older
    than DEVICE_DAYS."""
    if not cookie:
        return None
    try:
        value = _signer(settings).unsign(cookie, max_age=DEVICE_DAYS * 86400).decode()
    except BadSignature:
        return None
    tag, _, device = value.partition(".")
    expected = _account_tag(settings, normalise_email(email), generation)
    return device if device and hmac.compare_digest(tag, expected) else None


@dataclass(frozen=True)
class SecondStep:
    """The password was right and the account has two-factor sign-in: the signed token the code form carries."""

    token: str


PENDING_SECONDS = 300  # how long the code form of one password login stays good


def _pending_signer(settings: Settings) -> TimestampSigner:
    return TimestampSigner(str(settings.secret_key), salt="webinar.staff-second-step")


def _pending(settings: Settings, user_id: int, sid: str | None) -> str:
    # Bound to this browser's session id: the token is no use in another browser.
    return _pending_signer(settings).sign(f"{user_id}.{sessions.id_hash(sid or '')[:16]}").decode()


def _read_pending(settings: Settings, token: str, sid: str | None) -> int | None:
    try:
        value = _pending_signer(settings).unsign(token, max_age=PENDING_SECONDS).decode()
    except BadSignature:
        return None
    user_id, _, bound = value.partition(".")
    ok = user_id.isdigit() and hmac.compare_digest(bound, sessions.id_hash(sid or "")[:16])
    return int(user_id) if ok else None


async def sign_in(
    db: DB, settings: Settings, email: str, password: str, client: Client
) -> SignedIn | SecondStep | None:
    """Check the password under the login limits (RateLimited when this attempt must wait) and open a staff
    session, or ask for the second factor; None for a wrong address or password, which counts as a failure."""
    async with db.connection() as conn:
        found = await staff.credentials(conn, email) if email else None
        device = known_device(settings, client.device_cookie, email, found[0].device_generation if found else 0)
        attempt = logins.Attempt("staff-login", email, client.ip, device)
        await logins.check(conn, settings, attempt)
    ok = await passwords.verify_password(found[1] if found else None, password)
    async with db.connection() as conn:
        if not ok or found is None:
            await logins.failed(conn, settings, attempt)
            return None
        await logins.succeeded(conn, settings, attempt)
    user = found[0]
    if user.has_two_factor:
        return SecondStep(_pending(settings, user.id, client.old_sid))
    return await _open(db, settings, user, client)


async def second_step(db: DB, settings: Settings, token: str, code: str, client: Client) -> SignedIn | None:
    """Finish a password login with a code from the app or a recovery code (RateLimited when this attempt must
    wait); None for an expired token or a wrong code, which counts as a failure."""
    user_id = _read_pending(settings, token, client.old_sid)
    if user_id is None:
        return None
    attempt = logins.Attempt("staff-second-step", str(user_id), client.ip)
    async with db.transaction() as conn:
        await logins.check(conn, settings, attempt)
        ok = await twofactor.verify(conn, settings, user_id, code)
        user = await staff.by_id(conn, user_id) if ok else None
    if user is None:
        async with db.connection() as conn:
            await logins.failed(conn, settings, attempt)
        return None
    async with db.connection() as conn:
        await logins.succeeded(conn, settings, attempt)
    return await _open(db, settings, user, client)


def pending_user(settings: Settings, token: str, sid: str | None) -> int | None:
    """The account a code form's token is for, while it is good (the form shows again after a wrong code)."""
    return _read_pending(settings, token, sid)


async def _open(db: DB, settings: Settings, user: StaffUser, client: Client) -> SignedIn:
    """A new staff session for this browser (its old one revoked), audited; the browser becomes a known device."""
    async with db.transaction() as conn:
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
    generation = user.device_generation
    known = known_device(settings, client.device_cookie, user.email, generation)
    device = client.device_cookie if known and client.device_cookie else new_device(settings, user.email, generation)
    return SignedIn(user, sid, device)


async def log_out_everywhere(db: DB, user: StaffUser, ip: str) -> None:
    """End every session of this staff member, the one asking included, and make every browser a new one again
    (its device cookie no longer passes the login limits); audited."""
    async with db.transaction() as conn:
        await sessions.revoke_all(conn, staff_user_id=user.id)
        await staff.forget_devices(conn, user.id)
        await audit.record(
            conn,
            "staff.logout_everywhere",
            actor=user.email,
            actor_staff_id=user.id,
            organisation_id=user.organisation_id,
            ip=ip,
        )
