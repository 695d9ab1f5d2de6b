"""A certificate's PDF drawn from what was issued (name and minutes as they were then), and all of an event's as one
ZIP written entry by entry into a generator: the archive is never whole in memory."""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import AsyncIterator

from anyio import to_thread
from databases.core import Connection

from webinar.certificates import pdf, queries
from webinar.certificates.queries import Certificate
from webinar.db import DB
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.i18n import local_datetime, use
from webinar.zipstream import ZipSink

BATCH = 200  # certificates read from the register per query while writing the ZIP


def verification_url(base_url: str, number: str) -> str:
    """The public address a certificate's QR code and text point to."""
    return f"{base_url}/certificates/{number}"


def filename(number: str) -> str:
    """The certificate's file name (a series may hold slashes; a file name may not)."""
    return "certificate-" + number.replace("/", "-") + ".pdf"


def kind(event: Event, certificate: Certificate) -> str:
    """What the certificate certifies (SPEC §13): without a final evaluation, attendance (with the credits); with
    one, completion (with the credits) for those who passed it, participation (without) for those who failed or did
    not take it. A participation certificate becomes a completion one, same number, when its holder passes later."""
    return event.certificate_kind(certificate.evaluation_passed)


def _page(base_url: str, event: Event, organiser: str, certificate: Certificate) -> pdf.Page:
    with use(event.language):
        date = local_datetime(event.starts_at, event.timezone, "date")
    what = kind(event, certificate)
    return pdf.Page(
        language=event.language, full_name=certificate.full_name or "", member_id=certificate.member_id,
        event_title=event.title, starts_at_local=date, minutes=certificate.minutes,
        credits="" if what == pdf.PARTICIPATION else event.credits, kind=what,
        organiser=organiser, number=certificate.number, verification_url=verification_url(base_url, certificate.number),
    )  # fmt: skip


async def _organiser(conn: Connection, event: Event) -> str:
    organisation = await event_queries.organisation(conn, event.organisation_id)
    return organisation.name if organisation else ""


async def document(db: DB, base_url: str, event: Event, certificate: Certificate) -> bytes:
    """One certificate's PDF (drawn in a worker thread: a page takes tens of milliseconds of CPU)."""
    async with db.connection() as conn:
        organiser = await _organiser(conn, event)
    return await to_thread.run_sync(pdf.render, _page(base_url, event, organiser, certificate))


async def zip_of_valid(db: DB, base_url: str, event: Event) -> AsyncIterator[bytes]:
    """Every valid certificate of the event as one ZIP, yielded a certificate at a time, in the order issued."""
    async with db.connection() as conn:
        organiser = await _organiser(conn, event)
    sink = ZipSink()
    archive = zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED)
    after = 0
    while True:
        async with db.connection() as conn:
            batch = await queries.valid_after(conn, event.id, after, BATCH)
        if not batch:
            break
        for certificate in batch:
            body = await to_thread.run_sync(pdf.render, _page(base_url, event, organiser, certificate))
            stamp = certificate.issued_at.astimezone(dt.UTC).timetuple()[:6]
            archive.writestr(zipfile.ZipInfo(filename(certificate.number), date_time=stamp), body)
            yield sink.take()
        after = batch[-1].sequence
    archive.close()
    yield sink.take()
