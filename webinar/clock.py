"""The current time, in UTC, from one place so that jobs and tests agree on it."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """The current time as an aware UTC datetime, to the microsecond."""
    return dt.datetime.now(dt.UTC)
