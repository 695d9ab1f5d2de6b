"""Text helpers: line ends, slugs, accent-free search keys, normalised e-mail addresses and LIKE patterns."""

from __future__ import annotations

import re
import unicodedata

_NON_SLUG = re.compile(r"[^a-z0-9]+")


def fold(value: str) -> str:
    """Lower-case and strip diacritics: 'Ștefan' and 'Ştefan' (cedilla) both become 'stefan'."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def one_line_end(value: str) -> str:
    """The text with CRLF and lone CR line ends made LF (browsers send a textarea's lines with CRLF)."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def slugify(value: str, max_length: int = 80) -> str:
    """A URL slug from a title: 'Conferința Națională 2026' → 'conferinta-nationala-2026'."""
    slug = _NON_SLUG.sub("-", fold(value)).strip("-")
    return slug[:max_length].rstrip("-") or "event"


def search_key(*parts: str | None) -> str:
    """The stored search column of a registration: folded names and e-mail, space-separated."""
    return " ".join(fold(p) for p in parts if p)


def normalise_email(address: str) -> str:
    """The form of an address used to find duplicates: the whole address, case-folded."""
    return address.strip().casefold()


def like_escape(value: str) -> str:
    """`value` with LIKE's wildcards and the escape character itself escaped, for `.like(..., escape="\\")`."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# What a mail reader turns into a link: a scheme's "://", and a dot or an "@" between two letters or digits (a bare
# domain such as evil.example, an address). A registrant's name is printed in our e-mails to an address nobody has
# proven yet; in it, these are written so that no reader links them (docs/security.md).
_LINKISH = re.compile(r"(?<=\w)([.@])(?=\w)|(:)(//)")


def inert(value: str) -> str:
    """`value` with anything a mail reader would make clickable written inertly: 'https://evil.example/login' becomes
    'https[:]//evil[.]example/login'; 'Dr. Ana-Maria Pop' is unchanged."""
    return _LINKISH.sub(lambda m: f"[{m[1]}]" if m[1] else "[:]//", value)
