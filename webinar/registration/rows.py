"""The rows one registration writes — the registration, its consents, its answers, its first e-mail — for every
write path, and the writing of them on the locking path and by an import."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webinar.db import engine, insert_many
from webinar.dbbackends import Prepared
from webinar.events.queries import ConsentText, Event
from webinar.mail import outbox
from webinar.registration import notifications, seats
from webinar.registration.fields import FIELDS
from webinar.registration.forms import RegistrationData
from webinar.registration.questions import answer_rows
from webinar.settings import Settings
from webinar.tables import IMPORTED, answers, consent_records, registrations
from webinar.text import normalise_email, search_key
from webinar.webhooks import queue as webhooks


@dataclass(frozen=True)
class RequestMeta:
    """Where a submission came from, kept as proof with each consent."""

    ip: str
    user_agent: str


@dataclass(frozen=True)
class NewRegistration:
    """Everything one registration writes, as rows (the registration's id, unknown until it is inserted, is filled
    in by whichever path writes them)."""

    registration: dict[str, Any]
    consents: list[dict[str, Any]]
    answers: list[dict[str, Any]]  # to the event's custom questions, in their order (none when it asks none)
    mail: dict[str, Any]

    @property
    def status(self) -> str:
        status: str = self.registration["status"]
        return status


def registration_values(
    event: Event,
    data: RegistrationData,
    language: str,
    at: dt.datetime,
    status: str | None = None,
) -> dict[str, Any]:
    """The `registrations` row of a new registration (without its id); `status` a seat's unless given."""
    return {
        "event_id": event.id,
        **{field.name: field.value_of(data) for field in FIELDS},  # the declared personal fields
        "email_normalised": normalise_email(data.email),
        "password_hash": None,  # set by the attendee after a join-link login, never by the form
        "search_text": search_key(data.first_name, data.last_name, data.email),
        "status": status or seats.seat_status(event.approval),
        "marketing_opt_in": data.marketing,
        "token_version": 1,  # the join links' version counter, not a secret  # nosec B105
        "language": language,
        "created_at": at,
        "updated_at": at,
    }


def consent_values(
    event_id: int, consent: ConsentText, data: RegistrationData, meta: RequestMeta, at: dt.datetime
) -> list[dict[str, Any]]:
    """The `consent_records` rows a registration gives: processing (with the text's version, hash and language),
    marketing, age."""
    base = {"event_id": event_id, "action": "given", "recorded_at": at}
    base |= {"ip": meta.ip[:45] or None, "user_agent": meta.user_agent[:500] or None}
    no_text = {"consent_text_id": None, "text_version": None, "text_sha256": None, "text_language": None}
    rows = [
        base
        | {
            "purpose": "processing",
            "consent_text_id": consent.id,
            "text_version": consent.version,
            "text_sha256": consent.sha256,
            "text_language": consent.language,
        }
    ]
    if data.marketing:
        rows.append(base | no_text | {"purpose": "marketing"})
    if data.age_confirmed:
        rows.append(base | no_text | {"purpose": "age"})
    return rows


def imported_consent(event_id: int, staff_id: int | None, at: dt.datetime) -> dict[str, Any]:
    """The `consent_records` row of a person an organiser imported: the basis `imported`, who imported them (None:
    their organisation's system, through the API, named in the audit log) and when — no consent text, address or
    browser, because the person gave nothing here."""
    return {
        "event_id": event_id, "purpose": "processing", "action": IMPORTED, "recorded_at": at, "recorded_by": staff_id,
        "consent_text_id": None, "text_version": None, "text_sha256": None, "text_language": None, "ip": None,
        "user_agent": None,
    }  # fmt: skip


def _new(
    settings: Settings, values: dict[str, Any], consents: list[dict[str, Any]], data: RegistrationData
) -> NewRegistration:
    """A registration's rows around its `registrations` row: its answers and its first e-mail (queued unwritten:
    the sender writes it, registration/notifications.py)."""
    kind = notifications.first_kind(values["status"])
    mail = notifications.queued_row(settings, kind, values["event_id"], 0, data.email, values["created_at"])
    return NewRegistration(values, consents, answer_rows(data.answers), mail)


def new_registration(
    settings: Settings,
    event: Event,
    consent: ConsentText,
    data: RegistrationData,
    meta: RequestMeta,
    language: str,
    at: dt.datetime,
    status: str | None = None,
) -> NewRegistration:
    """The rows of one new registration from the form, its consents, its answers and its first e-mail; `status` a
    seat's unless given (`waitlisted`)."""
    status = seats.from_form(event.confirm_email, status or seats.seat_status(event.approval))
    values = registration_values(event, data, language, at, status)
    return _new(settings, values, consent_values(event.id, consent, data, meta, at), data)


def new_imported(
    settings: Settings, event: Event, data: RegistrationData, staff_id: int | None, at: dt.datetime, status: str
) -> NewRegistration:
    """The rows of one person an organiser imported: the same registration as the form's (in the event's language,
    without a password or marketing consent), on the basis `imported`, with the first e-mail of its status."""
    values = registration_values(event, data, event.language, at, status)
    return _new(settings, values, [imported_consent(event.id, staff_id, at)], data)


def insert_new(insert: Any) -> Any:
    """`insert` (a dialect's INSERT into registrations) that inserts nothing for an address already registered at
    the event, returning the new id: the one rule against a second registration, for every path."""
    return insert.on_conflict_do_nothing(
        index_elements=[registrations.c.event_id, registrations.c.email_normalised]
    ).returning(registrations.c.id)


def same_address(row: dict[str, Any]) -> sa.ColumnElement[bool]:
    """The registration of `row`'s address at `row`'s event."""
    return sa.and_(
        registrations.c.event_id == row["event_id"], registrations.c.email_normalised == row["email_normalised"]
    )


# What `write` runs, compiled once per process: the registration (the one rule against a second one, `insert_new`,
# returning where each landed), its consents, its answers.
_WRITE = {
    name: Prepared(
        insert_new(insert(registrations)).returning(registrations.c.event_id, registrations.c.email_normalised)
    )
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}
_CONSENTS, _ANSWERS = Prepared(consent_records.insert()), Prepared(answers.insert())


async def write(conn: Connection, news: Sequence[NewRegistration], send: bool = True) -> list[int | None]:
    """Write new registrations (distinct addresses) with their consents, answers and first e-mails — those only when
    `send` — in the caller's transaction, in a few multi-row statements whatever their number: the locking path
    writes one, an import thousands. Returns each one's new id, None where the address was already registered at
    the event (`insert_new`)."""
    landed = await insert_many(conn, _WRITE[engine(conn)], [new.registration for new in news], returning=True)
    by_address = {(event_id, address): int(reg_id) for reg_id, event_id, address in landed}
    ids = [by_address.get((new.registration["event_id"], new.registration["email_normalised"])) for new in news]
    await write_rest(conn, [(new, reg_id) for new, reg_id in zip(news, ids, strict=True) if reg_id is not None], send)
    return ids


async def write_rest(conn: Connection, written: Sequence[tuple[NewRegistration, int]], send: bool = True) -> None:
    """The consents, answers and first e-mails (only when `send`) of registrations whose row is written, each with
    its id: new ones (`write`), or a cancelled one taken up again (registration/services.py)."""
    consents = [row | {"registration_id": reg_id} for new, reg_id in written for row in new.consents]
    await insert_many(conn, _CONSENTS, consents)
    given = [row | {"registration_id": reg_id} for new, reg_id in written for row in new.answers]
    await insert_many(conn, _ANSWERS, given)
    if send:
        await outbox.enqueue_rows(conn, [new.mail | {"registration_id": reg_id} for new, reg_id in written])
    await webhooks.announce_registrations(conn, "registration.created", [reg_id for _new, reg_id in written])
