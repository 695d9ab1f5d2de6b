"""Staff passwords: changing one on "My account", and a reset by e-mail from the login page (docs/security.md,
"Staff passwords"). Each change is one transaction: the new hash, the sessions ended, an audit entry, the notice.

A reset link needs no table to work once: it carries a fingerprint (an HMAC keyed by SECRET_KEY) of the password
hash it was made for, and any new password (this link's, another link's, a change on "My account") makes a new hash
with a new salt, so every older link stops matching. It expires after RESET_VALID.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from databases.core import Connection
from itsdangerous import BadSignature, URLSafeSerializer

from webinar import audit
from webinar.accounts import passwords, sessions, staff
from webinar.accounts.staff import StaffUser
from webinar.clock import now
from webinar.db import DB
from webinar.mail import outbox
from webinar.mail.render import Mailer, render_email
from webinar.settings import Settings
from webinar.web import logins, ratelimit
from webinar.web.forms import has_control_chars

RESET_MINUTES = 30
RESET_VALID = dt.timedelta(minutes=RESET_MINUTES)
# "Forgot your password?" asks (x RATE_LIMIT_SCALE): per address typed, and per client address, in each window.
RESET_PER_ADDRESS, RESET_PER_IP, RESET_WINDOW = 3, 20, dt.timedelta(hours=1)
_PURPOSE = "webinar.staff-password-reset"


def _fingerprint(settings: Settings, password_hash: str) -> str:
    key = str(settings.secret_key).encode()
    return hmac.new(key, b"password-reset:" + password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def reset_token(settings: Settings, user_id: int, password_hash: str, expires_at: dt.datetime) -> str:
    """The token of a reset link for this account while its password hash is `password_hash`, until `expires_at`."""
    fingerprint = _fingerprint(settings, password_hash)
    return URLSafeSerializer(str(settings.secret_key), salt=_PURPOSE).dumps(
        [user_id, fingerprint, int(expires_at.timestamp())]
    )


def _claims(settings: Settings, token: str) -> tuple[int, str] | None:
    """The account and fingerprint of a genuine, unexpired reset token; None for anything else."""
    try:
        user_id, fingerprint, expires = URLSafeSerializer(str(settings.secret_key), salt=_PURPOSE).loads(token)
        good = isinstance(fingerprint, str) and dt.datetime.fromtimestamp(int(expires), dt.UTC) > now()
    except (BadSignature, ValueError, TypeError, OverflowError):
        return None
    return (int(user_id), fingerprint) if good else None


async def _holder(conn: Connection, settings: Settings, token: str, lock: bool = False) -> StaffUser | None:
    claims = _claims(settings, token)
    if claims is None:
        return None
    found = await staff.password_hash(conn, claims[0], lock=lock)
    if found is None or not hmac.compare_digest(_fingerprint(settings, found), claims[1]):
        return None  # used already (the hash changed), or the account is gone or deactivated
    return await staff.by_id(conn, claims[0])


async def reset_holder(db: DB, settings: Settings, token: str) -> StaffUser | None:
    """The account a reset link is good for now; None when it is forged, expired or used."""
    async with db.connection() as conn:
        return await _holder(conn, settings, token)


async def _notice(conn: Connection, mailer: Mailer, user: StaffUser, name: str, context: dict[str, Any]) -> None:
    """Queue one of the e-mails to a staff member (`emails/<name>.txt` and `.html`), in their language."""
    base = mailer.settings.base_url
    values = {"back_office_url": f"{base}/admin/", "forgot_url": f"{base}/admin/password-reset", **context}
    rendered = render_email(mailer.env, name, values, user.language)
    await outbox.enqueue(
        conn, kind=name, to_address=user.email, subject=rendered.subject, body_text=rendered.text,
        body_html=rendered.html, mail_from=mailer.settings.mail_from,
    )  # fmt: skip


async def _record(conn: Connection, user: StaffUser, action: str, ip: str) -> None:
    await audit.record(
        conn, action, actor=user.email, actor_staff_id=user.id, organisation_id=user.organisation_id, ip=ip
    )


async def change(db: DB, mailer: Mailer, user: StaffUser, current: str, new: str, keep_sid: str, ip: str) -> bool:
    """Replace the password after the current one is typed right (under the login limits: RateLimited when this
    attempt must wait); every other session of the account ends, this one stays; audited, the owner told by
    e-mail. False for a wrong current password, which counts as a failed login."""
    settings = mailer.settings
    attempt = logins.Attempt("staff-login", user.email, ip)
    async with db.connection() as conn:
        await logins.check(conn, settings, attempt)
        old_hash = await staff.password_hash(conn, user.id)
    if not await passwords.verify_password(old_hash, current):
        async with db.connection() as conn:
            await logins.failed(conn, settings, attempt)
        return False
    new_hash = await passwords.hash_password(new)
    async with db.transaction() as conn:
        await staff.set_password(conn, user.id, new_hash)
        await sessions.revoke_all(conn, staff_user_id=user.id, keep=keep_sid)
        await _record(conn, user, "staff.password_changed", ip)
        await _notice(conn, mailer, user, "staff_password_changed", {"at": now(), "ip": ip})
    return True


async def ask_reset(db: DB, mailer: Mailer, email: str, ip: str) -> Callable[[], Awaitable[None]]:
    """Count a "forgot your password?" ask against the address typed and the client's (RateLimited past either), and
    return what to do after the answer is sent: e-mail a reset link when an active account has that address, nothing
    otherwise. The answer is the same either way and comes before the look-up, so it tells nobody which addresses
    have accounts."""
    settings = mailer.settings
    async with db.connection() as conn:
        await ratelimit.hit(conn, settings, f"staff-reset:ip:{ratelimit.address(ip)}", RESET_PER_IP, RESET_WINDOW)
        await ratelimit.hit(conn, settings, f"staff-reset:email:{email.casefold()}", RESET_PER_ADDRESS, RESET_WINDOW)

    async def later() -> None:
        async with db.transaction() as conn:
            found = await staff.credentials(conn, email) if email and not has_control_chars(email) else None
            if found is None:
                return
            user, password_hash = found
            expires = now() + RESET_VALID
            token = reset_token(settings, user.id, password_hash, expires)
            link = f"{settings.base_url}/admin/password-reset/{token}"
            context = {"reset_url": link, "minutes": RESET_MINUTES, "ip": ip}
            await _notice(conn, mailer, user, "staff_password_reset", context)
            await _record(conn, user, "staff.password_reset_asked", ip)

    return later


async def reset(db: DB, mailer: Mailer, token: str, new: str, ip: str) -> StaffUser | None:
    """Set a new password with a reset link (which that spends, with every other one of the account); every session
    of the account ends and every browser is a new one again (admin/signin.py); audited, the owner told by e-mail.
    None when the link is forged, expired or used. Signing in afterwards asks for the second factor as always: a
    reset opens no session."""
    settings = mailer.settings
    if _claims(settings, token) is None:
        return None
    new_hash = await passwords.hash_password(new)
    async with db.transaction() as conn:
        user = await _holder(conn, settings, token, lock=True)  # locked: two uses of one link, one wins
        if user is None:
            return None
        await staff.set_password(conn, user.id, new_hash)
        await sessions.revoke_all(conn, staff_user_id=user.id)
        await staff.forget_devices(conn, user.id)  # whoever had the password had a known device too
        await _record(conn, user, "staff.password_reset", ip)
        await _notice(conn, mailer, user, "staff_password_changed", {"at": now(), "ip": ip})
    return user
