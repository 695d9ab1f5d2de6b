"""Creating and changing events; each change of the consent wording becomes a new, hashed version."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from databases.core import Connection

from webinar.clock import now
from webinar.events import queries
from webinar.events.queries import EventFields
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
    """An event's editable data, validated, plus the consent wording to show on its form."""

    consent_text: str


def consent_hash(text: str) -> str:
    """SHA-256 of the exact consent wording, as stored with each consent record."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def _add_consent_version(conn: Connection, event_id: int, text: str) -> None:
    latest = await queries.current_consent(conn, event_id)
    # A text stored with a browser's CRLF before line ends were made LF on input is the same wording.
    if latest is not None and one_line_end(latest.text) == one_line_end(text):
        return
    await conn.execute(
        consent_texts.insert().values(
            event_id=event_id,
            version=(latest.version + 1) if latest else 1,
            text=text,
            sha256=consent_hash(text),
            created_at=now(),
        )
    )


async def create_event(conn: Connection, data: EventInput) -> int:
    """Store a new event and the first version of its consent text; returns its id."""
    values = asdict(data)
    consent = values.pop("consent_text")
    at = now()
    event_id: int = await conn.fetch_val(
        events.insert().values(**values, created_at=at, updated_at=at).returning(events.c.id)
    )
    await _add_consent_version(conn, event_id, consent)
    return event_id


async def update_event(conn: Connection, event_id: int, data: EventInput) -> None:
    """Change an event; a changed consent text is stored as a new version, earlier ones are kept."""
    values = asdict(data)
    consent = values.pop("consent_text")
    await conn.execute(events.update().where(events.c.id == event_id).values(**values, updated_at=now()))
    await _add_consent_version(conn, event_id, consent)


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
