"""Calendar invitations (RFC 5545 / iTIP RFC 5546) built with `icalendar`: a request, its updates, its cancellation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from dataclasses import dataclass

import icalendar
from icalendar.parser.parameter import param_value

PRODID = "-//webinar//registration//EN"
REQUEST, CANCEL = "REQUEST", "CANCEL"
ALARM_BEFORE = dt.timedelta(minutes=15)
_METHOD = re.compile(r"^METHOD:([A-Z-]+)\r?$", re.MULTILINE)


@dataclass(frozen=True)
class Invitation:
    """One registrant's calendar entry for one event. `uid` stays the same for the registrant's every e-mail and
    `sequence` only grows (the event's `ics_sequence`), so a calendar moves or removes the entry it has instead of
    adding a second one."""

    uid: str
    title: str
    description: str
    url: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    organiser_name: str
    organiser_email: str
    attendee_email: str
    stamp: dt.datetime
    attendee_name: str = ""
    sequence: int = 0
    cancelled: bool = False  # METHOD:CANCEL, STATUS:CANCELLED: the calendar removes the entry
    alarm_text: str = ""  # the VALARM's text, ALARM_BEFORE the start (none in a cancellation)

    @property
    def method(self) -> str:
        return CANCEL if self.cancelled else REQUEST


def _clean(value: str) -> str:
    """Text without control characters (a CR or LF in a name would otherwise end the line); newlines are kept for
    DESCRIPTION, which icalendar escapes."""
    return _CONTROL.sub("", value)


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # every control character but TAB and LF


def _param(value: str) -> icalendar.vText:
    """A CN parameter: one line, without double quotes. RFC 6868 would write them as ^' (icalendar does), which
    Outlook shows as such."""
    return icalendar.vText(" ".join(_clean(value).replace('"', "").split()))


def _address(email: str, name: str) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{_clean(email).strip()}")
    if name.strip():
        address.params["CN"] = _param(name)
    return address


# The properties that differ from one registrant's entry to the next (the rest is the event's): what a Stencil fills.
PERSONAL = ("UID", "DTSTAMP", "DESCRIPTION", "URL", "LOCATION", "ATTENDEE")


def _add_personal(event: icalendar.Event, inv: Invitation) -> None:
    event.add("uid", _clean(inv.uid))
    event.add("dtstamp", inv.stamp.astimezone(dt.UTC))
    event.add("description", _clean(inv.description))
    event.add("url", inv.url)
    event.add("location", inv.url)
    attendee = _address(inv.attendee_email, inv.attendee_name)
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    attendee.params["PARTSTAT"] = "ACCEPTED"  # they registered: the entry needs no answer
    attendee.params["RSVP"] = "FALSE"  # the organiser's address is the platform's, which reads no replies
    event.add("attendee", attendee)


def _event(inv: Invitation) -> icalendar.Event:
    event = icalendar.Event()
    _add_personal(event, inv)
    event.add("sequence", inv.sequence)
    # UTC ("Z") times: one instant that Outlook, Google Calendar and Apple Calendar all show in the reader's own time
    # zone. A VTIMEZONE only earns its keep for recurring entries across DST changes; a one-off event has none, and a
    # TZID that Outlook cannot map (it wants its own names or a full definition) would shift the entry.
    event.add("dtstart", inv.starts_at.astimezone(dt.UTC))
    event.add("dtend", inv.ends_at.astimezone(dt.UTC))
    event.add("summary", _clean(inv.title))
    event.add("organizer", _address(inv.organiser_email, inv.organiser_name))
    event.add("status", "CANCELLED" if inv.cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if inv.cancelled else "OPAQUE")
    if not inv.cancelled and inv.alarm_text:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", _clean(inv.alarm_text))
        alarm.add("trigger", -ALARM_BEFORE)
        event.add_component(alarm)
    return event


def _calendar(inv: Invitation) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", inv.method)
    calendar.add_component(_event(inv))
    return calendar


def render(inv: Invitation) -> str:
    """The whole VCALENDAR (METHOD:REQUEST, or CANCEL) as text: CRLF line ends, lines folded at 75 octets."""
    return _calendar(inv).to_ical().decode("utf-8")


def method_of(text: str) -> str:
    """The METHOD of a VCALENDAR written by `render` (what the text/calendar MIME part must repeat); REQUEST when it
    names none."""
    found = _METHOD.search(text)
    return found.group(1) if found else REQUEST


def publish(uid: str, title: str, description: str, url: str, starts_at: dt.datetime, ends_at: dt.datetime,
            stamp: dt.datetime, sequence: int = 0, cancelled: bool = False) -> str:  # fmt: skip
    """An event's public calendar entry (METHOD:PUBLISH, the "add to calendar" file): no organiser, no attendee, no
    personal link, just what and when and the event's page; UTC times as in an invitation."""
    event = icalendar.Event()
    event.add("uid", _clean(uid))
    event.add("sequence", sequence)
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("dtstart", starts_at.astimezone(dt.UTC))
    event.add("dtend", ends_at.astimezone(dt.UTC))
    event.add("summary", _clean(title))
    event.add("description", _clean(description))
    event.add("url", url)
    event.add("location", url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")


def shared_part(inv: Invitation) -> Invitation:
    """The invitation without what is personal in it: the key of its Stencil (the event's entry, for everyone)."""
    return dataclasses.replace(inv, uid="", description="", url="", attendee_email="", attendee_name="", stamp=_EPOCH)


_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class Stencil:
    """An event's calendar entry rendered once, its registrant's lines (PERSONAL, in the VEVENT) rendered for each
    person: `fill(inv)` is `render(inv)` for any invitation with the same `shared_part`, checked on the first one
    (a difference, which no invitation of ours makes, keeps this stencil to `render`)."""

    def __init__(self, first: Invitation) -> None:
        self.shared = shared_part(first)
        self.lines: list[bytes | str] = []  # folded lines of the event's, or the name of a personal property
        depth: list[str] = []
        for line in _calendar(first).content_lines():
            if not line:
                continue
            name = line.split(":", 1)[0].split(";", 1)[0].upper()
            if name == "BEGIN":
                depth.append(line.split(":", 1)[1].upper())
            elif name == "END":
                depth.pop()
            personal = depth and depth[-1] == "VEVENT" and name in PERSONAL
            self.lines.append(name if personal else _folded(line))
        self.usable = self._fill(first) == render(first)

    def _fill(self, inv: Invitation) -> str:
        mine = _personal_lines(inv)
        return (b"\r\n".join(mine[line] if isinstance(line, str) else line for line in self.lines) + b"\r\n").decode()

    def fill(self, inv: Invitation) -> str:
        """The registrant's whole VCALENDAR, as `render` writes it."""
        assert shared_part(inv) == self.shared
        return self._fill(inv) if self.usable else render(inv)


def _personal_lines(inv: Invitation) -> dict[str, bytes]:
    """The registrant's PERSONAL lines, folded, as `_add_personal` and icalendar write them, without building an
    icalendar component for each person (most of the calendar stencil's time): TEXT escaped as icalendar escapes it,
    the attendee's parameters in icalendar's order and quoting (tests/webinar/test_mail_stencils.py compares the two on
    random values); a line break in a link or an address, which only icalendar knows what to do with, is left to it."""
    if any(ch in inv.url or ch in inv.attendee_email for ch in "\r\n"):
        event = icalendar.Event()
        _add_personal(event, inv)
        return {name: _folded(event.content_line(name, event[name])) for name in PERSONAL}
    attendee = "ATTENDEE;"
    if inv.attendee_name.strip():
        cn = str(_param(inv.attendee_name))
        quoted = param_value(cn, always_quote=" " in cn or "'" in cn)  # icalendar's rule for CN
        attendee += f"CN={quoted};"
    attendee += f"PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=FALSE:mailto:{_clean(inv.attendee_email).strip()}"
    lines = (
        f"UID:{_text(_clean(inv.uid))}", None, f"DESCRIPTION:{_text(_clean(inv.description))}", f"URL:{inv.url}",
        f"LOCATION:{_text(inv.url)}", attendee,
    )  # fmt: skip
    return {
        name: _stamp_line(inv.stamp.replace(microsecond=0)) if line is None else _folded(line)
        for name, line in zip(PERSONAL, lines, strict=True)
    }


def _text(value: str) -> str:
    """A TEXT value escaped as icalendar's vText escapes it (RFC 5545 3.3.11; the order matters)."""
    return (
        value.replace(r"\N", "\n").replace("\\", "\\\\").replace(";", r"\;").replace(",", r"\,")
        .replace("\r\n", r"\n").replace("\n", r"\n").replace("\r", r"\n")
    )  # fmt: skip


@functools.lru_cache(maxsize=64)
def _stamp_line(stamp: dt.datetime) -> bytes:
    """The DTSTAMP line, by icalendar: the same for every e-mail written in the same second (it writes no fraction)."""
    event = icalendar.Event()
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    return _folded(event.content_line("DTSTAMP", event["DTSTAMP"]))


FOLD_AT = 74  # octets of a folded line at most: icalendar's limit of 75, exclusive


def _folded(line: str) -> bytes:
    """`line.to_ical()` without its character-by-character loop: the UTF-8 cut every FOLD_AT octets at the last
    character boundary, or one character earlier so that a backslash or caret escape is not split from what it
    escapes — icalendar's own rule (tests/webinar/test_mail.py compares the two on random lines)."""
    octets = line.encode("utf-8")
    out, start, end = [], 0, len(octets)
    while end - start > FOLD_AT:
        cut = start + FOLD_AT
        while octets[cut] & 0xC0 == 0x80:  # inside a character: cut before it
            cut -= 1
        if octets[cut - 1] in b"\\^" and cut - 1 > start:
            cut -= 1
        out.append(octets[start:cut])
        start = cut
    out.append(octets[start:])
    return b"\r\n ".join(out)
