"""The one safe writer for every export: streamed CSV (BOM, RFC 4180, CRLF) and XLSX (sheet XML, zipped as it goes)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from zoneinfo import ZoneInfo

from openpyxl.utils import get_column_letter

from webinar.zipstream import ZipSink

Cell = str | int | float | bool | dt.datetime | None
Row = Sequence[Cell]

BOM = "\ufeff"
# A spreadsheet treats a cell starting with one of these as a formula (or, for tab / CR, may shift it into one).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
XLSX_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
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


# XML 1.0 cannot carry these at all (openpyxl drops the same control characters): they are removed from text.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Text with none of these, the usual case, is written as it is (neutralised); text with any of them is cleaned,
# escaped and marked to keep its spaces (leading or trailing whitespace would otherwise be the reader's to drop).
XML_SPECIAL = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|^[ \t\n]|[ \t\n]$")
# Excel's day 0 (its 1900 leap-year bug folded in): a date is the number of days since, its time the fraction.
XLSX_EPOCH = dt.datetime(1899, 12, 30)
XLSX_BATCH_BYTES = 1024 * 1024
# Style 1 shows a date as `XLSX_DATETIME_FORMAT`, style 2 is the bold header (xl/styles.xml below).
DATE_STYLE, HEADER_STYLE = 1, 2
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CONTENT_TYPES = (
    f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
)
_ROOT_RELS = (
    f'{_XML}<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" Type="{_REL}/officeDocument"'
    ' Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    f'{_XML}<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'
)
_FONT = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
_STYLES = (
    f'{_XML}<styleSheet {_NS}><numFmts count="1"><numFmt numFmtId="164" formatCode="{XLSX_DATETIME_FORMAT}"/>'
    f'</numFmts><fonts count="2"><font>{_FONT}</font><font><b/>{_FONT}</font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
    '</fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
_SHEET_TAIL = "</sheetData></worksheet>"
# Inline strings: no shared-string table to hold in memory.
INLINE_OPEN, INLINE_CLOSE = '" t="inlineStr"><is><t>', "</t></is></c>"
PRESERVED_OPEN = '" t="inlineStr"><is><t xml:space="preserve">'


def xml_text(text: str) -> str:
    """Text for a cell: illegal characters dropped, formulas neutralised, then escaped for XML (CR kept as `&#13;`,
    which a parser would otherwise turn into a line feed)."""
    text = neutralise(XML_ILLEGAL.sub("", text))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def inline_cell(start: str, raw: str) -> str:
    """An inline-string `<c r="{start}…`, left out when empty (`start`: the reference, maybe its style)."""
    if not XML_SPECIAL.search(raw):
        return f'<c r="{start}{INLINE_OPEN}{neutralise(raw)}{INLINE_CLOSE}' if raw else ""
    text = xml_text(raw)
    return f'<c r="{start}{PRESERVED_OPEN}{text}{INLINE_CLOSE}' if text else ""


def xlsx_serial(value: dt.datetime, zone: ZoneInfo) -> str:
    """A time as Excel's day number in the event's local wall-clock time (Excel has no time zones), to the second;
    written as PostgreSQL writes the same float8 (reports/pgcopy.py), shortest exact digits, no `.0`."""
    since = value.astimezone(zone).replace(tzinfo=None) - XLSX_EPOCH
    text = repr((since.days * 86400 + since.seconds) / 86400)
    return text[:-2] if text.endswith(".0") else text


def xlsx_cell(value: Cell, ref: str, zone: ZoneInfo) -> str:
    """One `<c>`: an empty cell is left out, times are dates, numbers numbers, everything else inline text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}{INLINE_OPEN}{"yes" if value else "no"}{INLINE_CLOSE}'
    if isinstance(value, dt.datetime):
        return f'<c r="{ref}" s="{DATE_STYLE}"><v>{xlsx_serial(value, zone)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{_number(value, False)}</v></c>'
    return inline_cell(ref, str(value))


def xlsx_rows(rows: Iterable[Row], first: int, zone: ZoneInfo) -> str:
    """`<row>` elements numbered from `first`, each ending in a line feed (as the COPY path writes them)."""
    parts = []
    for number, row in enumerate(rows, first):
        cells = "".join(xlsx_cell(v, f"{get_column_letter(k)}{number}", zone) for k, v in enumerate(row, 1))
        parts.append(f'<row r="{number}">{cells}</row>\n')
    return "".join(parts)


def _sheet_head(header: Sequence[str]) -> str:
    """The sheet up to its first data row: the header row frozen and bold, columns wide enough for a date."""
    cells = "".join(
        inline_cell(f'{get_column_letter(k)}1" s="{HEADER_STYLE}', name) for k, name in enumerate(header, 1)
    )
    return (
        f'{_XML}<worksheet {_NS}><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2"'
        ' activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        f'</sheetView></sheetViews><cols><col min="1" max="{max(len(header), 1)}" width="20" customWidth="1"/>'
        f'</cols><sheetData><row r="1">{cells}</row>\n'
    )


def _workbook(title: str) -> str:
    name = XML_ILLEGAL.sub("", title)[:31].translate({ord(c): "_" for c in "[]:*?/\\"})
    name = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return (
        f'{_XML}<workbook {_NS} xmlns:r="{_REL}"><sheets><sheet name="{name}" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>"
    )


async def xlsx_stream(title: str, header: Sequence[str], sheet_rows: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """An .xlsx streamed as it is zipped: the fixed parts, then the sheet from its `<row>` XML (`xlsx_row_chunks`,
    or PostgreSQL's COPY in reports/pgcopy.py), deflated a megabyte at a time off the event loop. Nothing is held
    but the current batch, and no temporary file is written."""
    sink = ZipSink()
    book = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
    for name, text in (
        ("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _ROOT_RELS), ("xl/workbook.xml", _workbook(title)),
        ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS), ("xl/styles.xml", _STYLES),
    ):  # fmt: skip
        book.writestr(name, text)
    with book.open("xl/worksheets/sheet1.xml", "w") as sheet:
        pending = [_sheet_head(header).encode("utf-8")]
        size = 0
        async for chunk in sheet_rows:
            pending.append(chunk)
            size += len(chunk)
            if size >= XLSX_BATCH_BYTES:  # deflating is CPU work (zlib lets go of the GIL meanwhile)
                await asyncio.to_thread(sheet.write, b"".join(pending))
                pending, size = [], 0
                if data := sink.take():  # deflate may hold it all back for now: no empty chunk goes out
                    yield data
        pending.append(_SHEET_TAIL.encode("utf-8"))
        await asyncio.to_thread(sheet.write, b"".join(pending))
    book.close()
    yield sink.take()


async def xlsx_row_chunks(rows: AsyncIterable[Row], zone: ZoneInfo) -> AsyncIterator[bytes]:
    """The sheet's rows, numbered from 2 (after the header), as UTF-8 XML in chunks of rows."""
    number = 2
    pending: list[Row] = []
    async for row in rows:
        pending.append(row)
        if len(pending) >= ROWS_PER_CHUNK:
            yield xlsx_rows(pending, number, zone).encode("utf-8")
            number += len(pending)
            pending = []
    if pending:
        yield xlsx_rows(pending, number, zone).encode("utf-8")
