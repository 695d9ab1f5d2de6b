"""Languages: gettext catalogues per locale, the active locale of a request, and locale-aware formatting."""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LANGUAGES = ("ro", "en")
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_active: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)
_catalogues: dict[str, NullTranslations] = {}


def _load(language: str) -> NullTranslations:
    """The compiled catalogue; compiled in memory from the .po file when the build has not made the .mo."""
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    mo, po = folder / "messages.mo", folder / "messages.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        return Translations.load(str(LOCALE_DIR), [language], domain="messages")
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as fh:
        parsed = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, parsed)
    buffer.seek(0)
    return Translations(buffer, domain="messages")


def catalogue(language: str) -> NullTranslations:
    """The catalogue of a language (loaded once per process)."""
    if language not in _catalogues:
        _catalogues[language] = _load(language)
    return _catalogues[language]


def activate(language: str) -> str:
    """Make `language` the one used by gettext in this task; returns the language actually used."""
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    _active.set(language)
    return language


@contextmanager
def use(language: str) -> Iterator[str]:
    """Work in `language` inside the block (an e-mail, a calendar file), then give the previous language back."""
    token = _active.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield _active.get()
    finally:
        _active.reset(token)


def active() -> str:
    """The language of the current task."""
    return _active.get()


def gettext(message: str) -> str:
    """Translate a message into the active language."""
    return catalogue(_active.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a plural form into the active language."""
    return catalogue(_active.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """Translate a message whose English is shared with another meaning (the context tells them apart)."""
    return str(catalogue(_active.get()).pgettext(context, message))


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    """Plural forms of a message in a context (e.g. a count's label, where English repeats a status word)."""
    return str(catalogue(_active.get()).npgettext(context, singular, plural, n))


def N_(message: str) -> str:
    """Mark a string for extraction only; it is translated where it is shown (statuses, report titles)."""
    return message


_ = gettext


@functools.lru_cache(maxsize=256)  # browsers send a handful of distinct headers
def from_accept_language(header: str | None) -> str | None:
    """The first of our languages the browser asks for, if any."""
    if not header:
        return None
    weighted = []
    for part in header.split(","):
        lang, _sep, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        weighted.append((weight, lang.strip().lower()[:2]))
    for _weight, lang in sorted(weighted, key=lambda item: -item[0]):
        if lang in LANGUAGES:
            return lang
    return None


# The one way a time is written, in every page, e-mail and document: day, month in letters, year, a 24-hour clock,
# the same order in both languages, so that nobody reads 3/9/27 as March or September ("2 dec. 2026, 00:40" /
# "2 Dec 2026, 00:40"). Each is a Babel (CLDR) pattern; the month names and their abbreviations are the locale's.
PATTERNS = {
    "datetime": "d MMM y, HH:mm",
    "seconds": "d MMM y, HH:mm:ss",  # where seconds matter: the mail queue's attempts
    "date": "d MMMM y",
    "time": "HH:mm",
    "event": "EEEE, d MMMM y, HH:mm",
}


def local_datetime(value: dt.datetime, timezone: str, fmt: str = "datetime") -> str:
    """A UTC time shown in the event's time zone, in the active language: `fmt` is one of PATTERNS — "datetime"
    ("2 dec. 2026, 00:40"), "seconds" (with them), "date" ("2 decembrie 2026"), "time" ("00:40") or "event", the
    whole date with the weekday ("miercuri, 2 decembrie 2026, 00:40"; "Wednesday, 2 December 2026, 00:40")."""
    return _local_datetime(value, timezone, fmt, _active.get())


# Babel formats a date in tens of microseconds, and a page shows its event's few times over and over.
@functools.lru_cache(maxsize=4096)
def _local_datetime(value: dt.datetime, timezone: str, fmt: str, language: str) -> str:
    zone = ZoneInfo(timezone)
    return format_datetime(value.astimezone(zone), format=PATTERNS[fmt], tzinfo=zone, locale=Locale.parse(language))


def format_number(value: int) -> str:
    """A whole number as the active locale writes it: 10,000 in English, 10.000 in Romanian."""
    return str(format_decimal(value, locale=_active.get()))
