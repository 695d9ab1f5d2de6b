"""Languages: gettext catalogues per locale, the active locale of a request, and locale-aware formatting."""

from __future__ import annotations

import datetime as dt
import io
from contextvars import ContextVar
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
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


def active() -> str:
    """The language of the current task."""
    return _active.get()


def gettext(message: str) -> str:
    """Translate a message into the active language."""
    return catalogue(_active.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a plural form into the active language."""
    return catalogue(_active.get()).ngettext(singular, plural, n)


_ = gettext


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


def local_datetime(value: dt.datetime, timezone: str, fmt: str = "medium") -> str:
    """A UTC time shown in the event's time zone, formatted for the active locale."""
    zone = ZoneInfo(timezone)
    return format_datetime(value.astimezone(zone), format=fmt, tzinfo=zone, locale=Locale.parse(_active.get()))
