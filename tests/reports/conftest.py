"""Fixtures for report tests: an organisation with an event, logged-in staff clients, CSV/XLSX parsing."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import openpyxl
import pytest
from starlette.applications import Starlette

from tests.conftest import login_staff

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Setup:
    event_id: int
    organisation_id: int
    slug: str


@pytest.fixture
async def setup(create_organisation: Any, create_event: Any) -> Setup:
    """An organisation and one event of it (Europe/Bucharest)."""
    org = await create_organisation()
    slug = "raport-stiinta"
    event_id = await create_event(organisation_id=org, slug=slug)
    return Setup(event_id, org, slug)


StaffClient = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def staff_client(app: Starlette, create_staff: Any) -> AsyncIterator[StaffClient]:
    """`http = await staff_client("organiser", org_id)`: a fresh client logged in as a new staff member."""
    opened: list[httpx.AsyncClient] = []

    async def make(role: str = "organiser", organisation_id: int | None = None) -> httpx.AsyncClient:
        user = await create_staff(role, organisation_id)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(http)
        response = await login_staff(http, user.email)
        assert response.status_code == 303, response.text[:300]
        return http

    yield make
    for http in opened:
        await http.aclose()


def parse_csv(response: httpx.Response, delimiter: str = ",") -> list[list[str]]:
    """The rows of a CSV export, after checking its BOM and its CRLF line ends."""
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/csv")
    raw = response.content
    assert raw.startswith(BOM)
    text = raw[len(BOM) :].decode("utf-8")
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    # Every record ends in CRLF: re-encoding the parsed rows the same way gives back the same text.
    again = io.StringIO()
    csv.writer(again, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    assert again.getvalue() == text
    return rows


def parse_xlsx(response: httpx.Response) -> tuple[Any, list[list[Any]]]:
    """The worksheet and the cell values of an .xlsx export."""
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    return sheet, [list(row) for row in sheet.iter_rows(values_only=True)]
