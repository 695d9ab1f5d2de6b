"""RFC 5545 calendar invitations written by hand: escaped text, folded lines, CRLF, UTC times."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Invitation:
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


def escape_text(value: str) -> str:
    """A TEXT value per RFC 5545 §3.3.11: backslash, semicolon, comma and newlines escaped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return "".join(ch for ch in value if ch == "\t" or (ord(ch) >= 32 and ord(ch) != 127))


def _param(value: str) -> str:
    """A parameter value: quoted, without the characters a quoted value cannot hold."""
    return '"' + "".join(ch for ch in value if ch not in '"\r\n' and ord(ch) >= 32) + '"'


def fold(line: str) -> str:
    """Fold a content line at 75 octets, never inside a UTF-8 character (RFC 5545 §3.1)."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += ch
        size += width
    out.append(current)
    return "\r\n".join(out)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def render(inv: Invitation) -> str:
    """The whole VCALENDAR (METHOD:REQUEST) as text with CRLF line ends."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//webinar//registration//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{escape_text(inv.uid)}",
        f"DTSTAMP:{_utc(inv.stamp)}",
        f"DTSTART:{_utc(inv.starts_at)}",
        f"DTEND:{_utc(inv.ends_at)}",
        f"SUMMARY:{escape_text(inv.title)}",
        f"DESCRIPTION:{escape_text(inv.description)}",
        f"URL:{inv.url}",
        f"LOCATION:{escape_text(inv.url)}",
        f"ORGANIZER;CN={_param(inv.organiser_name)}:mailto:{inv.organiser_email}",
        f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:mailto:{inv.attendee_email}",
        "STATUS:CONFIRMED",
        "SEQUENCE:0",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) + "\r\n" for line in lines)
