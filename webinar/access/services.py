"""Getting in and out: join links, password login, "e-mail me my link", logout. Each is one transaction."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from databases.core import Connection
from starlette.templating import Jinja2Templates

from webinar.access import queries
from webinar.access.queries import Attendee
from webinar.accounts import passwords, sessions
from webinar.clock import now
from webinar.db import DB
from webinar.events.queries import Event
from webinar.links.tokens import JOIN, read_token
from webinar.mail.render import Mailer
from webinar.registration import notifications
from webinar.registration import queries as registration_queries
from webinar.settings import Settings
from webinar.text import normalise_email
from webinar.web import logins, proof, ratelimit
from webinar.web.ratelimit import Limit

SEND_LINK_LIMIT = 5
WINDOW = dt.timedelta(minutes=15)
# Per address and event (SPEC §15): past the soft threshold each attempt needs a proof of work; this is the hard
# ceiling.
PROOF_CEILING, PROOF_WINDOW = 1000, dt.timedelta(minutes=10)
# How long after the end the stream page stays open.
GRACE = dt.timedelta(minutes=30)


class JoinRefusal(enum.Enum):
    INVALID = "invalid"  # forged, expired, revoked, another event's, erased: 400
    REFUSED = "refused"  # rejected or cancelled: 403
    EVENT_CANCELLED = "event_cancelled"  # the organiser cancelled the event: 410


@dataclass(frozen=True)
class Client:
    """Where a request comes from, as stored on the session."""

    ip: str
    user_agent: str
    old_sid: str | None


async def join(
    starts: queries.JoinStarts, settings: Settings, slug: str, token: str, client: Client
) -> tuple[Event, str | JoinRefusal] | None:
    """Log in with a join link: the event (None when there is no such event) and a new attendee session (the
    browser's old one revoked), or why not. On PostgreSQL, when the browser had no session, one statement, with
    the other join links of the moment (`queries.JoinStarts`)."""
    db = starts.db
    claims = read_token(str(settings.secret_key), JOIN, token, now())
    session = None
    if claims is None:
        found = await queries.event_and_registration(db, slug, None, 0)
    elif client.old_sid is None and not db.is_sqlite:
        session = _session(settings, client)
        found = await starts.join_and_start(slug, claims.registration_id, claims.token_version, session)
    else:
        found = await queries.event_and_registration(db, slug, claims.registration_id, claims.token_version)
    if found is None or found.event.purged_at is not None:
        return None
    event, attendee = found.event, found.attendee
    if found.refusal is not None or attendee is None:  # a forged or expired token names no registration: invalid
        return event, JoinRefusal(found.refusal or JoinRefusal.INVALID.value)
    if session is not None and found.started:
        return event, session.raw_id
    if client.old_sid is None:
        return event, await sessions.create_alone(db, _session(settings, client, event, attendee))
    async with db.transaction() as conn:
        return event, await _start_session(conn, settings, event, attendee, client)


async def link_holder(db: DB, slug: str, registration_id: int, token_version: int) -> Attendee | None:
    """The registration a signed link other than the join link names (the certificate's), by the join link's rule:
    None when the event is cancelled or purged, the registration is another event's, erased, revoked by a newer
    token version, or neither approved nor pending."""
    found = await queries.event_and_registration(db, slug, registration_id, token_version)
    if found is None or found.event.purged_at is not None or found.refusal is not None:
        return None
    return found.attendee


async def sign_in(db: DB, settings: Settings, event: Event, attendee: Attendee, client: Client) -> str | None:
    """A new attendee session for this browser, signed in by a link other than the join link; None once the event's
    join links have expired (no session outlives them)."""
    if now() >= event.join_link_expires_at:
        return None
    async with db.transaction() as conn:
        return await _start_session(conn, settings, event, attendee, client)


async def _start_session(conn: Connection, settings: Settings, event: Event, attendee: Attendee, client: Client) -> str:
    """A new attendee session for this browser; its previous one (if any) revoked."""
    if client.old_sid is not None:
        # A page still open under the old session reconnects under the new one, as a new viewing session.
        await sessions.end_viewing(conn, sessions.id_hash(client.old_sid), "left")
        await sessions.revoke(conn, client.old_sid)
    return await sessions.create(conn, _session(settings, client, event, attendee))


def _session(
    settings: Settings, client: Client, event: Event | None = None, attendee: Attendee | None = None
) -> sessions.NewSession:
    """A new attendee session for this browser: for this attendee of this event, ending when its join links
    expire if that is before the longest a session lasts; without them, the join link's one statement fills in
    the registration, the event and that end (queries.JoinStarts)."""
    return sessions.new(
        kind="attendee",
        registration_id=attendee.id if attendee else None,
        event_id=event.id if event else None,
        max_age=dt.timedelta(hours=settings.session_max_hours),
        until=event.join_link_expires_at if event else None,
        ip=client.ip,
        user_agent=client.user_agent,
    )


async def password_login(
    db: DB, settings: Settings, event: Event, email: str, password: str, client: Client
) -> str | None:
    """Log in with e-mail and password under the login limits (web/logins.py: RateLimited when this attempt must
    wait); the new session id, or None for any wrong answer, which counts as a failure."""
    attempt = logins.Attempt(f"attendee-login:{event.id}", email, client.ip)
    async with db.connection() as conn:
        await logins.check(conn, settings, attempt)
        attendee = await queries.registration_by_email(conn, event.id, email) if email else None
    ok = await passwords.verify_password(attendee.password_hash if attendee else None, password)
    if not ok or attendee is None:
        async with db.connection() as conn:
            await logins.failed(conn, settings, attempt)
        return None
    async with db.transaction() as conn:
        await logins.succeeded(conn, settings, attempt)
        return await _start_session(conn, settings, event, attendee, client)


def proof_limit(settings: Settings, event: Event, form: str, ip: str) -> Limit:
    """The attempts at one of the event's forms (`login`, `send-link`) from one address: its load and hard ceiling."""
    return Limit.of(settings, f"{form}:{event.id}:ip:{ratelimit.address(ip)}", PROOF_CEILING, PROOF_WINDOW)


async def proof_gate(
    db: DB, settings: Settings, proofs: proof.Proofs, event: Event, form: str, ip: str, payload: str
) -> proof.Refusal | None:
    """Count this attempt from `ip` (RateLimited past the hard ceiling); past the soft threshold, why its proof of
    work is refused (None: none needed, or good and now spent). Before the form's own checks and throttles."""
    limit = proof_limit(settings, event, form, ip)
    async with db.connection() as conn:
        hits = await ratelimit.count(conn, limit)
    proofs.loads.put(limit.stored_key, hits)
    if not proofs.tuning.needed(hits - 1):  # the attempts before this one
        return None
    return await proofs.spend(db, payload, event.id, form)


async def send_link(db: DB, settings: Settings, templates: Jinja2Templates, event: Event, email: str, ip: str) -> None:
    """Queue the join link for an approved registrant of this address (rate-limited per address; per IP, the proof
    gate's ceiling); silent otherwise."""
    async with db.connection() as conn:
        await ratelimit.hit(conn, settings, f"send-link:{event.id}:{email.casefold()}", SEND_LINK_LIMIT, WINDOW)
    async with db.transaction() as conn:
        registrant = await registration_queries.by_email(conn, event.id, normalise_email(email))
        if registrant is not None and registrant.status == "approved" and registrant.email and not event.cancelled:
            await notifications.queue(conn, Mailer(settings, templates.env), "join_link", event, registrant)


async def logout(db: DB, event: Event, raw_sid: str | None, idle: dt.timedelta) -> None:
    """End this browser's viewing sessions (reason `logout`) and its attendee session."""
    if raw_sid is None:
        return
    async with db.transaction() as conn:
        found = await queries.attendee_session(conn, raw_sid, event.id, idle)
        if found is not None:
            await sessions.end_viewing(conn, found.id_hash, "logout")
        await sessions.revoke(conn, raw_sid)


class Gate(enum.Enum):
    LOGIN = "login"
    PENDING = "pending"
    REFUSED = "refused"
    CANCELLED = "cancelled"  # the event, by its organiser
    WAITING = "waiting"
    OVER = "over"
    OPEN = "open"
    REPLAY = "replay"  # after the end, until `replay_until`: the stream page plays the replay
    REPLAY_OVER = "replay_over"  # after `replay_until`


def gate(event: Event, attendee: Attendee | None, at: dt.datetime) -> Gate:
    """What the stream page shows this visitor now (SPEC §3.4; the replay: §13); a cancelled event shows that to
    everyone."""
    if event.cancelled:
        return Gate.CANCELLED
    if attendee is None:
        return Gate.LOGIN
    if attendee.status == "pending":
        return Gate.PENDING
    if attendee.status != "approved":
        return Gate.REFUSED
    if at < event.doors_open_at:
        return Gate.WAITING
    if event.has_replay and at > event.ends_at:
        return Gate.REPLAY if event.replay_on(at) else Gate.REPLAY_OVER
    if at > event.ends_at + GRACE:
        return Gate.OVER
    return Gate.OPEN


async def viewer(db: DB, settings: Settings, event: Event, raw_sid: str | None) -> Attendee | None:
    """The attendee this browser is logged in as, for this event."""
    idle = dt.timedelta(minutes=settings.session_idle_minutes)
    async with db.connection() as conn:
        found = await queries.attendee_session(conn, raw_sid, event.id, idle)
    return found.attendee if found else None


async def event_and_viewer(
    db: DB, settings: Settings, slug: str, raw_sid: str | None
) -> tuple[Event, Attendee | None] | None:
    """The event with this slug (None when there is none) and the attendee this browser is logged in as, in one
    query (the stream page's)."""
    idle = dt.timedelta(minutes=settings.session_idle_minutes)
    found = await queries.event_and_viewer(db, slug, raw_sid, idle)
    if found is None or found[0].purged_at is not None:
        return None
    event, session = found
    return event, session.attendee if session else None
