"""Password logins' limits, one rule for staff and attendees (docs/security.md, "Rate limits").

Only failures count, never a correct password: per account and per address, and past a soft threshold each
further attempt waits longer (a doubling delay, never a fixed lockout). A device that signed in to the account
before gets through while the account is throttled, so that someone guessing cannot lock its owner out; it loses
that pass after a few failures of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from databases.core import Connection

from webinar.settings import Settings
from webinar.web import ratelimit
from webinar.web.errors import RateLimited
from webinar.web.ratelimit import Backoff

# Failures in a row before the delay starts, the first delay, the longest (x RATE_LIMIT_SCALE for the counts).
ACCOUNT = (5, dt.timedelta(seconds=30), dt.timedelta(minutes=15))
ADDRESS = (50, dt.timedelta(seconds=10), dt.timedelta(minutes=15))
DEVICE = (10, dt.timedelta(seconds=30), dt.timedelta(minutes=15))


@dataclass(frozen=True)
class Attempt:
    """One password login: which kind ("staff-login", "attendee-login:<event id>"), the account (the address as
    typed), where from, and the known device it comes from, if any."""

    kind: str
    account: str
    ip: str
    device: str | None = None


def _backoff(settings: Settings, key: str, rule: tuple[int, dt.timedelta, dt.timedelta]) -> Backoff:
    return Backoff.of(settings, key, *rule)


def _account(settings: Settings, attempt: Attempt) -> Backoff:
    return _backoff(settings, f"{attempt.kind}:account:{attempt.account.casefold()}", ACCOUNT)


def _address(settings: Settings, attempt: Attempt) -> Backoff:
    return _backoff(settings, f"{attempt.kind}:ip:{ratelimit.address(attempt.ip)}", ADDRESS)


def _device(settings: Settings, attempt: Attempt) -> Backoff | None:
    return _backoff(settings, f"{attempt.kind}:device:{attempt.device}", DEVICE) if attempt.device else None


async def check(conn: Connection, settings: Settings, attempt: Attempt) -> None:
    """Raise RateLimited (429, Retry-After) when this attempt must wait; a known device in good standing never
    does. Nothing is counted here."""
    device = _device(settings, attempt)
    if device is not None and await ratelimit.waiting(conn, device) is None:
        return
    waits = [await ratelimit.waiting(conn, b) for b in (_account(settings, attempt), _address(settings, attempt))]
    longest = max((w for w in waits if w is not None), default=None)
    if longest is not None:
        raise RateLimited(longest)


async def failed(conn: Connection, settings: Settings, attempt: Attempt) -> None:
    """Count a wrong password against the account, the address and the device."""
    for backoff in (_account(settings, attempt), _address(settings, attempt), _device(settings, attempt)):
        if backoff is not None:
            await ratelimit.failed(conn, backoff)


async def succeeded(conn: Connection, settings: Settings, attempt: Attempt) -> None:
    """The owner got in: the account's streak of failures ends (the address's does not: it may be shared)."""
    await ratelimit.forget(conn, _account(settings, attempt))
    if (device := _device(settings, attempt)) is not None:
        await ratelimit.forget(conn, device)
