"""The rows one registration writes — the registration, its consents, its answers, its first e-mail — for every
write path."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from webinar.events.queries import ConsentText, Event
from webinar.registration import notifications, seats
from webinar.registration.fields import FIELDS
from webinar.registration.forms import RegistrationData
from webinar.registration.questions import answer_rows
from webinar.settings import Settings
from webinar.tables import registrations
from webinar.text import normalise_email, search_key


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
    password_hash: str | None,
    language: str,
    at: dt.datetime,
    status: str | None = None,
) -> dict[str, Any]:
    """The `registrations` row of a new registration (without its id); `status` a seat's unless given."""
    return {
        "event_id": event.id,
        **{field.name: field.value_of(data) for field in FIELDS},  # the declared personal fields
        "email_normalised": normalise_email(data.email),
        "password_hash": password_hash,
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
    """The `consent_records` rows a registration gives: processing (with the text's version), marketing, age."""
    base = {"event_id": event_id, "action": "given", "recorded_at": at}
    base |= {"ip": meta.ip[:45] or None, "user_agent": meta.user_agent[:500] or None}
    no_text = {"consent_text_id": None, "text_version": None, "text_sha256": None}
    rows = [
        base
        | {
            "purpose": "processing",
            "consent_text_id": consent.id,
            "text_version": consent.version,
            "text_sha256": consent.sha256,
        }
    ]
    if data.marketing:
        rows.append(base | no_text | {"purpose": "marketing"})
    if data.age_confirmed:
        rows.append(base | no_text | {"purpose": "age"})
    return rows


def new_registration(
    settings: Settings,
    event: Event,
    consent: ConsentText,
    data: RegistrationData,
    password_hash: str | None,
    meta: RequestMeta,
    language: str,
    at: dt.datetime,
    status: str | None = None,
) -> NewRegistration:
    """The rows of one new registration, its consents, its answers and its first e-mail (queued unwritten: the
    sender writes it, registration/notifications.py); `status` a seat's unless given (`waitlisted`)."""
    values = registration_values(event, data, password_hash, language, at, status)
    kind = notifications.first_kind(values["status"])
    mail = notifications.queued_row(settings, kind, event.id, 0, data.email, at)
    consents = consent_values(event.id, consent, data, meta, at)
    return NewRegistration(values, consents, answer_rows(data.answers), mail)


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
