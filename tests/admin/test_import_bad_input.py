"""A list that cannot be imported gets the reason beside the file field, and nothing is stored — not even the
upload: a file over the limit, malformed, not UTF-8, empty, a header that matches nothing, a required column
missing, the same column twice, an old .xls, a broken .xlsx."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import pytest

from tests.admin.import_helpers import HEADER, NOTHING, csv_bytes, people, stored, upload
from tests.conftest import csrf_for
from webinar.registration.importfile import MAX_BYTES

BAD = [
    pytest.param(
        "ten-mb.csv", (csv_bytes([HEADER]) + b"a@example.org,Ana,Pop,,\r\n" * 440_000)[: 10 * 1024 * 1024], 413,
        "The file is 10.0 MB; one import takes at most 5 MB.", id="10MB",
    ),
    pytest.param(
        "quotes.csv", b'Email,First name,Last name\r\na@example.org,"Ana,Pop\r\n', 422,
        "The file is not a CSV we can read: line 2 is malformed", id="malformed",
    ),
    pytest.param(
        "nul.csv", b"Email,First name,Last name\r\na@example.org,An\x00a,Pop\r\n", 422,
        "The file contains NUL characters, so it is not a text CSV.", id="nul",
    ),
    pytest.param(
        "windows-1250.csv", csv_bytes([HEADER, ["s@example.org", "Ştefan", "Ţăranu", "", ""]], bom=False,
                                      encoding="cp1250"), 422,
        "The file is not in UTF-8: byte 0xAA on line 2 is not UTF-8 text.", id="cp1250",
    ),
    pytest.param(
        "unicode.txt", "Email\tFirst name\tLast name\r\n".encode("utf-16"), 422,
        "The file is saved as UTF-16", id="utf16",
    ),
    pytest.param("empty.csv", b"", 422, "The file is empty.", id="empty"),
    pytest.param("blank.csv", b"\xef\xbb\xbf\r\n ;; \r\n", 422, "The file is empty.", id="blank"),
    pytest.param("header-only.csv", csv_bytes([HEADER]), 422, "The file has a header row but no one under it",
                 id="header-only"),
    pytest.param(
        "other.csv", csv_bytes([["Nume complet", "Telefon mobil", "Oraș"], ["Ana Pop", "0721", "Iași"]]), 422,
        "None of the columns in the first row is one we know (Nume complet, Telefon mobil, Oraș).", id="no-match",
    ),
    pytest.param(
        "no-names.csv", csv_bytes([["Email", "Organisation"], ["a@example.org", "Spital"]]), 422,
        "The list has no column for First name, Last name, which this event requires.", id="missing-required",
    ),
    pytest.param(
        "twice.csv", csv_bytes([["Email", "First name", "Last name", "E-mail"], ["a@example.org", "A", "P", "b@x.ro"]]),
        422, "The column “E-mail” (D) repeats a column before it.", id="twice",
    ),
    pytest.param("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, 422,
                 "This is an old Excel file (.xls).", id="xls"),
    pytest.param("broken.xlsx", b"PK\x03\x04" + b"\x00" * 300, 422, "This file is not an Excel workbook we can read.",
                 id="broken-xlsx"),
    pytest.param("renamed.xlsx", csv_bytes([HEADER, *people(1)]), 422, "is named .xlsx but is not an Excel workbook",
                 id="renamed"),
]  # fmt: skip


@pytest.fixture
async def event_id(importer, create_event) -> AsyncIterator[int]:
    _http, org_id, _user = importer
    yield await create_event(organisation_id=org_id, field_organisation="optional")


@pytest.mark.parametrize(("filename", "content", "status", "message"), BAD)
async def test_a_file_that_cannot_be_imported_is_refused_with_its_reason_and_nothing_is_stored(
    importer, db, event_id, filename, content, status, message
) -> None:
    http, _org, _user = importer
    response = await upload(http, event_id, content, filename=filename)
    assert response.status_code == status
    text = html.unescape(response.text)
    assert 'id="file-error"' in response.text and message in text, text[:3000]
    assert 'type="file"' in response.text  # the form again, to choose another file
    assert await stored(db) == NOTHING


async def test_a_body_cut_off_past_the_limit_without_a_declared_length_gets_the_same_page(importer, db, event_id):
    http, _org, _user = importer
    path = f"/admin/events/{event_id}/import"
    token = await csrf_for(http, path)
    boundary = "grens"
    disposition = "Content-Disposition: form-data; name="
    head = (f'--{boundary}\r\n{disposition}"csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\n{disposition}"file"; filename="big.csv"\r\n\r\n').encode()  # fmt: skip

    async def chunks() -> AsyncIterator[bytes]:
        yield head
        for _ in range(MAX_BYTES // (64 * 1024) + 8):
            yield b"x" * (64 * 1024)

    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    response = await http.post(path, content=chunks(), headers=headers)
    assert response.status_code == 413 and "The file is larger than 5 MB" in html.unescape(response.text)
    assert await stored(db) == NOTHING


async def test_posting_without_a_file_or_with_a_forged_form_stores_nothing(importer, db, event_id) -> None:
    http, _org, _user = importer
    path = f"/admin/events/{event_id}/import"
    token = await csrf_for(http, path)
    response = await http.post(path, data={"csrf_token": token, "action": "preview"})
    assert response.status_code == 422 and "Choose the file with your list" in response.text
    forged = await http.post(path, data={"action": "preview"}, files={"file": ("a.csv", csv_bytes([HEADER]))})
    assert forged.status_code == 403
    assert (await http.post(path, data={"csrf_token": token, "action": "steal"})).status_code == 400
    assert await stored(db) == NOTHING
