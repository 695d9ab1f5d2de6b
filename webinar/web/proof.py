"""Proof of work for busy addresses (SPEC §15): ALTCHA challenges, their difficulty, and spending a solution once."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from altcha.v1 import ChallengeOptions, Payload, create_challenge, extract_params, verify_solution
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webinar.clock import now
from webinar.db import DB
from webinar.dbbackends import Prepared
from webinar.i18n import N_, gettext
from webinar.settings import Settings
from webinar.tables import UTCDateTime, proof_solutions
from webinar.web import ratelimit
from webinar.web.ratelimit import Limit

FIELD = "altcha"  # the form field the widget posts its solution in (SPEC §15)
ACTIONS = ("register", "login", "send-link")  # what a challenge is for; a solution for one is no good for another
# How long a challenge may be solved and used; its spent solution is kept as long (a reused one is refused).
LIFETIME = dt.timedelta(minutes=10)
# Longer than any sane payload (about 300 characters); anything longer is refused unread.
MOST_PAYLOAD = 2000


class Refusal(enum.Enum):
    """Why a form that needed a proof of work was refused (each a 422 with its own message)."""

    MISSING = "missing"
    INVALID = "invalid"  # not an ALTCHA payload, a wrong signature, a wrong number: forged
    OTHER = "other"  # signed by us, but for another event or another form
    EXPIRED = "expired"
    REUSED = "reused"


_MESSAGES = {
    Refusal.MISSING: N_(
        "Many people have used this form from your network in the last few minutes, so your browser must do a short "
        "automatic check first: tick “I am not a robot” below, wait until it says “Verified”, then send the form "
        "again. The check needs JavaScript; without it, try again in ten minutes or from another network (for "
        "example your phone's mobile data)."
    ),
    Refusal.INVALID: N_("The automatic check could not be verified. Tick the box again, then send the form."),
    Refusal.OTHER: N_("The automatic check was made for another page. Tick the box again, then send the form."),
    Refusal.EXPIRED: N_("The automatic check has expired. Tick the box again, then send the form."),
    Refusal.REUSED: N_("The automatic check was already used. Tick the box again, then send the form."),
}


def message(refusal: Refusal) -> str:
    """What the person is told, in the active language, when their form's proof of work is refused."""
    return gettext(_MESSAGES[refusal])


def widget_strings() -> dict[str, str]:
    """The widget's labels in the active language (its `strings` attribute): ours, not its bundled catalogues."""
    return {
        "label": gettext("I am not a robot"),
        "verify": gettext("Verify"),
        "verifying": gettext("Checking…"),
        "verified": gettext("Verified"),
        "waitAlert": gettext("Checking… please wait."),
        "error": gettext("The check failed. Please try again later."),
        "expired": gettext("The check expired. Please try again."),
        "verificationRequired": gettext("Please tick “I am not a robot” first."),
        "loading": gettext("Loading…"),
        "reload": gettext("Reload"),
        "footer": "",
        "ariaLinkLabel": "",
    }


def _spend(insert: Any) -> Prepared:
    values = {"challenge": sa.bindparam("challenge"), "expires_at": sa.bindparam("expires_at", type_=UTCDateTime)}
    statement = insert(proof_solutions).values(**values).on_conflict_do_nothing(index_elements=["challenge"])
    return Prepared(statement.returning(proof_solutions.c.challenge))


SPEND = {"sqlite": _spend(sqlite_insert), "postgresql": _spend(pg_insert)}


@dataclass(frozen=True)
class Tuning:
    """How the proof of work is asked for: past `threshold` attempts per address, event and window, a challenge whose
    numbers go up to `base`, doubled for every `doubling` attempts more, at most `most`."""

    threshold: int
    base: int
    doubling: int
    most: int

    @classmethod
    def of(cls, settings: Settings) -> Tuning:
        return cls(settings.pow_threshold, settings.pow_base_number, settings.pow_doubling, settings.pow_max_number)

    def needed(self, hits: int) -> bool:
        """Whether the next attempt, after `hits` in this window, must come with a solved challenge."""
        return hits >= self.threshold

    def max_number(self, hits: int) -> int:
        """The difficulty for an address that made `hits` attempts in this window (the work grows with it)."""
        doublings = min(30, max(0, hits - self.threshold) // max(1, self.doubling))
        return max(1, min(self.most, self.base * 2**doublings))


class Proofs:
    """Issues ALTCHA challenges bound to one event and one form, and checks and spends their solutions."""

    def __init__(self, settings: Settings) -> None:
        # A key of its own, so that nothing else we sign with the secret can pass for a challenge.
        self.key = hmac.new(str(settings.secret_key).encode(), b"altcha-challenges", hashlib.sha256).hexdigest()
        self.tuning = Tuning.of(settings)
        self.loads = Loads()
        self._here: dict[str, int] = {}

    def surely_below(self, key: str) -> bool:
        """Whether this process has seen so few attempts under `key` (this one counted) that the address is surely
        under the threshold without asking the database: the first quarter of it, so that a rush of many addresses
        costs no read. Another process's attempts are not seen here, so an address spread over N processes may pass
        N quarters of the threshold before the database is read: the threshold is soft, the ceiling is exact."""
        if len(self._here) >= 100_000:  # a flood of addresses: start again rather than grow
            self._here.clear()
        seen = self._here[key] = self._here.get(key, 0) + 1
        return seen <= self.tuning.threshold // 4

    def seen_few(self, key: str) -> bool:
        """Whether the next attempt under `key` is surely under the threshold as `surely_below` will judge it, without
        counting one: what a page asks before it shows the form (a new visitor's page costs no read)."""
        return self._here.get(key, 0) < self.tuning.threshold // 4

    async def load(self, db: DB, limit: Limit, cached: bool = False) -> int:
        """The attempts counted under `limit` in this window: the address's load (`cached`: as read in the last few
        seconds, for the pages and challenges that only show it)."""
        hits = self.loads.get(limit.stored_key) if cached else None
        if hits is None:
            hits = await ratelimit.hits(db, limit)
            self.loads.put(limit.stored_key, hits)
        return hits

    def challenge(self, event_id: int, action: str, hits: int) -> dict[str, Any]:
        """A new challenge for this event's form `action`, as hard as `hits` attempts call for (the widget's JSON)."""
        options = ChallengeOptions(
            algorithm="SHA-256",
            max_number=self.tuning.max_number(hits),
            hmac_key=self.key,
            expires=now() + LIFETIME,
            params={"event": str(event_id), "form": action},
        )
        return create_challenge(options).to_dict()

    def check(self, payload: str, event_id: int, action: str) -> tuple[Payload | None, Refusal | None, int]:
        """The solution if it is ours, for this event and form, and not expired (its expiry as a Unix time), or why
        not. It is not spent yet (`spend`)."""
        if not payload:
            return None, Refusal.MISSING, 0
        if len(payload) > MOST_PAYLOAD:
            return None, Refusal.INVALID, 0
        try:
            parsed = Payload.from_base64(payload)
            params = extract_params(parsed.to_dict())
            expires = int(params.get("expires", ["0"])[0])
        except (ValueError, TypeError, KeyError, AttributeError):
            return None, Refusal.INVALID, 0
        # The library reads the wall clock for the expiry; ours is `now()` (which tests move), checked below.
        verified, _error = verify_solution(parsed, self.key, check_expires=False)
        if not verified:
            return None, Refusal.INVALID, 0
        if params.get("event") != [str(event_id)] or params.get("form") != [action]:
            return None, Refusal.OTHER, 0
        if expires <= now().timestamp():
            return None, Refusal.EXPIRED, 0
        return parsed, None, expires

    async def spend(self, db: DB, payload: str, event_id: int, action: str) -> Refusal | None:
        """Accept a solution once: None when it is good and was unused (it is spent now), or why it is refused."""
        parsed, refusal, expires = self.check(payload, event_id, action)
        if parsed is None:
            return refusal
        values = {"challenge": parsed.challenge, "expires_at": dt.datetime.fromtimestamp(expires, dt.UTC)}
        row = await db.one(SPEND["sqlite" if db.is_sqlite else "postgresql"], values)
        return None if row is not None else Refusal.REUSED


class Loads:
    """Each address's recent attempts as last read, kept for a few seconds: a flood of challenge requests costs one
    read per address and event every `ttl` seconds, not one each."""

    def __init__(self, ttl: float = 5.0, most: int = 10_000) -> None:
        self.ttl, self.most = ttl, most
        self._seen: dict[str, tuple[float, int]] = {}

    def get(self, key: str) -> int | None:
        found = self._seen.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: str, hits: int) -> None:
        if len(self._seen) >= self.most:  # a flood from many addresses: start again rather than grow
            self._seen.clear()
        self._seen[key] = (time.monotonic() + self.ttl, hits)


async def purge_spent(conn: Any) -> None:
    """Forget the spent solutions whose challenges have expired (they could not be used again anyway)."""
    await conn.execute(proof_solutions.delete().where(proof_solutions.c.expires_at < now()))
