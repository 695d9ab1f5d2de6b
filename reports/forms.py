"""Parse and validate the query string of report pages and exports: interval, separator, page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from starlette.exceptions import HTTPException

from webinar.i18n import gettext as _

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
_LOCAL_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
SEPARATORS = {"comma": ",", "semicolon": ";"}


@dataclass(frozen=True)
class Interval:
    """A time interval in UTC; a missing bound means the event's whole life on that side."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @property
    def is_whole_life(self) -> bool:
        return self.start is None and self.end is None


def _bad_bound(name: str, timezone: str) -> HTTPException:
    message = _(
        "“%(name)s” must be a date and time in the format YYYY-MM-DDTHH:MM (for example 2026-11-22T14:05), "
        "in the event's time zone (%(timezone)s).",
    ) % {"name": name, "timezone": timezone}
    return HTTPException(400, message)


def parse_local(value: str, timezone: str) -> dt.datetime | None:
    """A `YYYY-MM-DDTHH:MM` time in the event's time zone as aware UTC; None when it is not in that format."""
    if not _LOCAL_RE.match(value):
        return None
    try:
        naive = dt.datetime.strptime(value, LOCAL_FORMAT)
    except ValueError:
        return None
    return naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(dt.UTC)


def format_local(value: dt.datetime | None, timezone: str) -> str:
    """The `YYYY-MM-DDTHH:MM` form of a UTC time in the event's zone (for form fields); '' for None."""
    return value.astimezone(ZoneInfo(timezone)).strftime(LOCAL_FORMAT) if value else ""


def parse_interval(params: Mapping[str, str], timezone: str) -> Interval:
    """`from` / `to` from the query string; raises a 400 with the expected format when one is bad."""
    bounds: dict[str, dt.datetime | None] = {}
    for name in ("from", "to"):
        raw = params.get(name, "").strip()
        bounds[name] = parse_local(raw, timezone) if raw else None
        if raw and bounds[name] is None:
            raise _bad_bound(name, timezone)
    start, end = bounds["from"], bounds["to"]
    if start is not None and end is not None and start >= end:
        raise HTTPException(400, _("The start of the interval (“from”) must be before its end (“to”)."))
    return Interval(start, end)


def parse_separator(params: Mapping[str, str]) -> str:
    """The CSV delimiter for `?sep=comma|semicolon` (default comma); 400 for anything else."""
    name = params.get("sep", "comma")
    if name not in SEPARATORS:
        raise HTTPException(400, _("“sep” must be “comma” or “semicolon”."))
    return SEPARATORS[name]


def parse_page(params: Mapping[str, str]) -> int:
    """The 1-based page number; anything that is not a positive whole number means the first page."""
    raw = params.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 10**9 else 1
