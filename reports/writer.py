"""The one safe writer for every export: streamed CSV (BOM, RFC 4180, CRLF) and XLSX, formula-neutralised."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from typing import IO, Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

Cell = str | int | float | bool | dt.datetime | None
Row = Sequence[Cell]

BOM = "\ufeff"
# A spreadsheet treats a cell starting with one of these as a formula (or, for tab / CR, may shift it into one).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
XLSX_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
CHUNK_BYTES = 64 * 1024
ROWS_PER_CHUNK = 500


def neutralise(text: str) -> str:
    """Prefix a `'` to text a spreadsheet would run as a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _number(value: float, decimal_comma: bool) -> str:
    text = repr(value) if isinstance(value, float) else str(value)
    return text.replace(".", ",") if decimal_comma else text


def csv_cell(value: Cell, zone: ZoneInfo, decimal_comma: bool = False) -> str:
    """One cell as CSV text: times ISO 8601 with the offset in `zone`, numbers plain, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, int | float):
        return _number(value, decimal_comma)
    return neutralise(str(value))


def encode_rows(rows: Iterable[Row], zone: ZoneInfo, delimiter: str = ",") -> str:
    """CSV text (RFC 4180 quoting, CRLF) for some rows; the caller adds the BOM once."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    # With `;` (EU-locale Excel) numbers use a decimal comma, which is what those locales read as a number.
    decimal_comma = delimiter == ";"
    writer.writerows([csv_cell(value, zone, decimal_comma) for value in row] for row in rows)
    return buffer.getvalue()


async def csv_stream(
    header: Sequence[str], rows: AsyncIterable[Row], zone: ZoneInfo, delimiter: str = ","
) -> AsyncIterator[bytes]:
    """UTF-8 CSV with a BOM, yielded in chunks of rows so memory stays constant."""
    yield (BOM + encode_rows([header], zone, delimiter)).encode("utf-8")
    pending: list[Row] = []
    async for row in rows:
        pending.append(row)
        if len(pending) >= ROWS_PER_CHUNK:
            yield encode_rows(pending, zone, delimiter).encode("utf-8")
            pending = []
    if pending:
        yield encode_rows(pending, zone, delimiter).encode("utf-8")


def xlsx_value(value: Cell, zone: ZoneInfo) -> Any:
    """One cell for openpyxl: naive local datetimes, real numbers, neutralised text without illegal characters."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).replace(tzinfo=None)  # Excel has no time zones: local wall-clock time
    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", str(value)))


def _xlsx_row(sheet: Any, row: Row, zone: ZoneInfo) -> list[Any]:
    cells = []
    for value in row:
        cell = WriteOnlyCell(sheet, value=xlsx_value(value, zone))
        if isinstance(value, dt.datetime):
            cell.number_format = XLSX_DATETIME_FORMAT
        elif isinstance(cell.value, str):
            cell.data_type = "s"  # never a formula, whatever the text
        cells.append(cell)
    return cells


async def xlsx_stream(
    title: str, header: Sequence[str], rows: AsyncIterable[Row], zone: ZoneInfo
) -> AsyncIterator[bytes]:
    """An .xlsx built with openpyxl's write-only mode (rows spooled to disk), then streamed from a temp file."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    heading = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)
    async for row in rows:
        sheet.append(_xlsx_row(sheet, row, zone))
    with tempfile.TemporaryFile() as spool:
        await asyncio.to_thread(book.save, spool)  # zipping a large sheet is CPU work: off the event loop
        spool.seek(0)
        while chunk := await asyncio.to_thread(_read, spool):
            yield chunk


def _read(spool: IO[bytes]) -> bytes:
    return spool.read(CHUNK_BYTES)
