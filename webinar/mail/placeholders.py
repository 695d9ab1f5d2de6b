"""The organisers' e-mail texts: plain text with {placeholders}, read by our own small parser, never a template
language.

`{first_name}` is replaced by its value; `{{` and `}}` write a brace itself. Anything else between braces
(`{0}`, `{first_name.__class__}`, `{% for %}`) is a problem the organiser is told about, never evaluated: the only
operation on the text is looking a name up in a fixed table. The HTML part is made from the same pieces: the text
escaped, its paragraphs kept, its web addresses and link placeholders made clickable.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from webinar.i18n import N_

# Every placeholder there is (SPEC §12, and the place in line of a waiting list), with what it stands for.
PLACEHOLDERS: dict[str, str] = {
    "first_name": N_("the registrant's first name"),
    "last_name": N_("the registrant's last name"),
    "event_title": N_("the event's title"),
    "starts_at": N_("when the event starts, in its time zone and the registrant's language"),
    "join_link": N_("the registrant's personal join link"),
    "cancel_link": N_("the link to cancel the registration"),
    "replay_link": N_("the link to the replay"),
    "certificate_link": N_("the link to the registrant's certificate"),
    "organisation": N_("the organiser's name"),
    "place": N_("the registrant's place on the waiting list"),
}
LINKS = frozenset({"join_link", "cancel_link", "replay_link", "certificate_link"})  # made clickable in the HTML
_TOKEN = re.compile(r"\{([^{}\n]{0,60})\}")
_URL = re.compile(r"https?://[^\s<>\"'{}]+")
_TRAILING = ".,;:!?)]'\""  # punctuation after an address ends the sentence, not the address
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")


@dataclass(frozen=True)
class Name:
    """A placeholder in a text: `{name}`."""

    name: str


Piece = str | Name  # literal text, or a placeholder


@dataclass(frozen=True)
class Problems:
    """What is wrong with a text: unknown placeholders, ones this e-mail has no value for, stray braces."""

    unknown: tuple[str, ...] = ()  # each as written, braces included
    unavailable: tuple[str, ...] = ()
    stray: tuple[str, ...] = ()  # a short excerpt around each stray brace

    def __bool__(self) -> bool:
        return bool(self.unknown or self.unavailable or self.stray)


def _excerpt(text: str, at: int) -> str:
    return text[max(at - 10, 0) : at + 11].replace("\n", " ")


def parse(text: str) -> tuple[list[Piece], Problems]:
    """The pieces of a text and what is wrong with it (an unknown `{name}` is kept as literal text)."""
    pieces: list[Piece] = []
    literal: list[str] = []
    unknown: list[str] = []
    stray: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "{}" and text[i + 1 : i + 2] == ch:
            literal.append(ch)
            i += 2
        elif ch == "{" and (match := _TOKEN.match(text, i)) and match.group(1) in PLACEHOLDERS:
            pieces.extend(["".join(literal), Name(match.group(1))])
            literal = []
            i = match.end()
        elif ch == "{" and (match := _TOKEN.match(text, i)):
            unknown.append(match.group(0))
            literal.append(match.group(0))
            i = match.end()
        elif ch in "{}":
            stray.append(_excerpt(text, i))
            literal.append(ch)
            i += 1
        else:
            literal.append(ch)
            i += 1
    pieces.append("".join(literal))
    return [p for p in pieces if p != ""], Problems(tuple(dict.fromkeys(unknown)), (), tuple(stray))


def check(text: str, available: Collection[str]) -> Problems:
    """What is wrong with a text for an e-mail whose placeholders are `available`."""
    pieces, problems = parse(text)
    unavailable = [f"{{{p.name}}}" for p in pieces if isinstance(p, Name) and p.name not in available]
    return Problems(problems.unknown, tuple(dict.fromkeys(unavailable)), problems.stray)


def names(text: str) -> set[str]:
    """The placeholders a text uses."""
    return {p.name for p in parse(text)[0] if isinstance(p, Name)}


def fill(pieces: Sequence[Piece], values: Mapping[str, str]) -> str:
    """The text with each placeholder replaced by its value (one missing from `values`: empty)."""
    return "".join(p if isinstance(p, str) else values.get(p.name, "") for p in pieces)


def _linked(text: str) -> str:
    """Literal text, HTML-escaped, with its http(s) addresses made links."""
    out: list[str] = []
    end = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        out.append(str(escape(text[end : match.start()])))
        out.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        end = match.start() + len(url)
    out.append(str(escape(text[end:])))
    return "".join(out)


def _value_html(name: str, value: str) -> str:
    if name in LINKS and value.startswith(("https://", "http://")):
        return f'<a href="{escape(value)}">{escape(value)}</a>'
    return str(escape(value))


def to_html(pieces: Sequence[Piece], values: Mapping[str, str]) -> Markup:
    """The HTML of a text: escaped, a blank line between paragraphs, a line break kept, addresses clickable."""
    html = "".join(_linked(p) if isinstance(p, str) else _value_html(p.name, values.get(p.name, "")) for p in pieces)
    paragraphs = [part.strip("\n").replace("\n", "<br>\n") for part in _PARAGRAPH.split(html.strip())]
    return Markup("\n".join(f"<p>{part}</p>" for part in paragraphs if part))  # noqa: S704  # nosec B704 - escaped above


def escape_braces(text: str) -> str:
    """Literal text written so that `parse` reads it back as it is."""
    return text.replace("{", "{{").replace("}", "}}")
