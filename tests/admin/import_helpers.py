"""Helpers shared by the import tests: an organiser's browser, lists as CSV or .xlsx bytes, posting them through the
real upload form, and reading back the preview's token."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

import httpx

from tests.admin.helpers import count
from tests.conftest import csrf_for
from webinar.db import DB
from webinar.tables import answers, consent_records, import_uploads, outbox, registrations

TOKEN_RE = re.compile(r'name="upload" value="([^"]+)"')
HEADER = ["Email", "First name", "Last name", "Job title", "Organisation"]


def csv_bytes(rows: Sequence[Sequence[Any]], delimiter: str = ",", bom: bool = True, encoding: str = "utf-8") -> bytes:
    """A CSV as Excel writes it: CRLF, quoted where needed, a BOM when asked."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" if bom else "").encode(encoding) + buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    """An .xlsx workbook with the rows on its first sheet (cells keep their Python types)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def people(n: int, start: int = 1, domain: str = "example.org") -> list[list[str]]:
    """`n` valid rows under HEADER, with Romanian diacritics."""
    return [
        [f"persoana{i}@{domain}", "Ștefan", f"Țăranu {i}", "Medic", "Spitalul Județean"]
        for i in range(start, start + n)
    ]


async def upload(
    http: httpx.AsyncClient, event_id: int, content: bytes, filename: str = "lista.csv", **headers: str
) -> httpx.Response:
    """Post a file through the import form, as the browser does (multipart)."""
    path = f"/admin/events/{event_id}/import"
    data = {"csrf_token": await csrf_for(http, path), "action": "preview"}
    return await http.post(path, data=data, files={"file": (filename, content, "text/csv")}, headers=headers)


def token_of(response: httpx.Response) -> str:
    """The preview's token, from its confirmation form."""
    match = TOKEN_RE.search(response.text)
    assert match, response.text[:2000]
    return match.group(1)


async def confirm(
    http: httpx.AsyncClient, event_id: int, token: str, emails: str | None = "dont_send"
) -> httpx.Response:
    """Confirm a previewed import (`emails`: send, dont_send, or None for no choice)."""
    path = f"/admin/events/{event_id}/import"
    data = {"csrf_token": await csrf_for(http, path), "action": "confirm", "upload": token}
    if emails is not None:
        data["emails"] = emails
    return await http.post(path, data=data)


async def stored(db: DB) -> dict[str, int]:
    """How many rows an import may write hold now, table by table."""
    tables = (registrations, consent_records, answers, outbox, import_uploads)
    return {table.name: await count(db, table) for table in tables}


NOTHING = {"registrations": 0, "consent_records": 0, "answers": 0, "outbox": 0, "import_uploads": 0}
