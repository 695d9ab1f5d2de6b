"""Creating and changing events; each change of a language's consent wording becomes a new, hashed version."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from databases.core import Connection

from webinar import changes
from webinar.clock import now
from webinar.events import queries
from webinar.events.queries import EventFields
from webinar.i18n import LANGUAGES
from webinar.tables import consent_texts, events
from webinar.text import one_line_end

DEFAULT_CONSENT_TEXT = {
    "ro": (
        "Sunt de acord ca datele mele de înregistrare să fie prelucrate de organizator pentru a participa la "
        "acest eveniment: confirmarea înscrierii, accesul la transmisiune și evidența participării."
    ),
    "en": (
        "I agree that the organiser processes my registration data so that I can take part in this event: "
        "confirming my registration, giving me access to the stream and keeping a record of attendance."
    ),
}


@dataclass(frozen=True)
class EventInput(EventFields):
    """An event's editable data, validated, plus the consent wording to show on its form in each language (either
    may be empty, not both: a page in a language without one shows the other's)."""

    consent_text_ro: str
    consent_text_en: str

    def consent_text(self, language: str) -> str:
        """The consent wording given in `language` ('' when none)."""
        return self.consent_text_ro if language == "ro" else self.consent_text_en


def consent_hash(text: str) -> str:
    """SHA-256 of the exact consent wording, as stored with each consent record."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def _add_consent_version(conn: Connection, event_id: int, language: str, text: str) -> None:
    """A new version of the language's text when its wording changed (an emptied one too: it is shown no more),
    numbered after every version of the event's texts in any language, so a version names one wording."""
    ct = consent_texts
    newest = sa.select(ct.c.text).where(ct.c.event_id == event_id, ct.c.language == language)
    latest = await conn.fetch_val(newest.order_by(ct.c.version.desc()).limit(1))
    # A text stored with a browser's CRLF before line ends were made LF on input is the same wording.
    if one_line_end(latest or "") == one_line_end(text):
        return
    highest = await conn.fetch_val(sa.select(sa.func.max(ct.c.version)).where(ct.c.event_id == event_id))
    await conn.execute(
        ct.insert().values(
            event_id=event_id,
            version=(highest or 0) + 1,
            language=language,
            text=text,
            sha256=consent_hash(text),
            created_at=now(),
        )
    )


async def _add_consent_versions(conn: Connection, event_id: int, data: EventInput) -> None:
    for language in LANGUAGES:
        await _add_consent_version(conn, event_id, language, data.consent_text(language))


def _event_values(data: EventInput) -> dict[str, object]:
    values = asdict(data)
    for language in LANGUAGES:
        del values[f"consent_text_{language}"]
    return values


async def create_event(conn: Connection, data: EventInput) -> int:
    """Store a new event and the first version of its consent text in each language given; returns its id."""
    values = _event_values(data)
    at = now()
    event_id: int = await conn.fetch_val(
        events.insert().values(**values, created_at=at, updated_at=at).returning(events.c.id)
    )
    await _add_consent_versions(conn, event_id, data)
    return event_id


async def update_event(conn: Connection, event_id: int, data: EventInput) -> None:
    """Change an event; a language's changed consent text is stored as a new version of it, earlier ones are kept."""
    changes.shown_changed()
    await conn.execute(events.update().where(events.c.id == event_id).values(**_event_values(data), updated_at=now()))
    await _add_consent_versions(conn, event_id, data)


async def unique_slug(conn: Connection, base: str, except_id: int | None = None) -> str:
    """`base`, or `base-2`, `base-3`… whichever is free."""
    slug, n = base, 1
    while await queries.slug_taken(conn, slug, except_id):
        n += 1
        slug = f"{base[:95]}-{n}"
    return slug


async def count_events(conn: Connection) -> int:
    """How many events exist."""
    return int(await conn.fetch_val(sa.select(sa.func.count()).select_from(events)))
