"""Reading a list to import (SPEC §11): a CSV (UTF-8 with or without a BOM; `,`, `;` or tab) or an .xlsx, into a
table of text cells — or the one clear reason it cannot be read (FileRefused).

The file's own rules live here: its size, its encoding, its delimiter, its shape (rows, columns, cells). What the
cells mean (the columns, each row checked by the registration form's rules) is registration/importplan.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from webinar.i18n import format_number, ngettext
from webinar.i18n import gettext as _

MAX_BYTES = 5 * 1024 * 1024  # a list of 10,000 people with a few answers each is 1–3 MB
MAX_ROWS = 20_000  # past this, split the list: one preview stays readable and one transaction short
MAX_COLUMNS = 200
MAX_CELL = 10_000  # characters: far above any field's limit (those are the form's rules), far below a bomb
XLSX_UNPACKED_MOST = 60 * 1024 * 1024  # what the parts of an .xlsx may unpack to, as its directory declares
DELIMITERS = (",", ";", "\t")
XLSX_MAGIC, XLS_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
CSV, XLSX = "csv", "xlsx"


class FileRefused(Exception):
    """The file cannot be imported at all; `message` says why, in words the organiser can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Table:
    """A file's cells as text: its header row, then each row that is not blank with its row number (the header is
    row 1, as a spreadsheet numbers them)."""

    kind: str  # CSV or XLSX
    delimiter: str  # the CSV's; "" for an .xlsx
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]


def _empty() -> str:
    return _("The file is empty. Choose the file with your list: a header row, then one row per person.")


def megabytes(size: int) -> str:
    """A size as the organiser reads it: 10.0 MB."""
    return f"{size / (1024 * 1024):.1f} MB"


def too_large(size: int | None) -> str:
    """The message for a file over the limit (`size` None: unknown, it was cut off while arriving)."""
    limit = {"most": megabytes(MAX_BYTES).replace(".0 ", " "), "rows": format_number(MAX_ROWS)}
    if size is None:
        return _("The file is larger than %(most)s, the most one import takes. Split the list into parts of up to "
                 "%(rows)s rows and import each.") % limit  # fmt: skip
    return _("The file is %(size)s; one import takes at most %(most)s. Split the list into parts of up to %(rows)s "
             "rows and import each.") % (limit | {"size": megabytes(size)})  # fmt: skip


def read_table(data: bytes, filename: str) -> Table:
    """The file's table; FileRefused with the reason when it is empty, too large, not UTF-8, not a CSV or .xlsx we
    can read, or has too many rows or columns. CPU work: call it off the event loop."""
    if len(data) > MAX_BYTES:
        raise FileRefused(too_large(len(data)))
    if not data.strip():
        raise FileRefused(_empty())
    if data.startswith(XLS_MAGIC):
        raise FileRefused(_("This is an old Excel file (.xls). In Excel choose File › Save As › “Excel Workbook "
                            "(.xlsx)” or “CSV UTF-8”, then upload that file."))  # fmt: skip
    if data.startswith(XLSX_MAGIC):
        return _table(XLSX, "", _xlsx_rows(data))
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise FileRefused(_("This file is named .xlsx but is not an Excel workbook. Save it again from Excel."))
    text = _decoded(data)
    delimiter = _delimiter(text)
    return _table(CSV, delimiter, _csv_rows(text, delimiter))


def _decoded(data: bytes) -> str:
    if b"\x00" in data and not data.startswith(UTF16_BOMS):
        raise FileRefused(_("The file contains NUL characters, so it is not a text CSV. Save the list again from "
                            "Excel as “CSV UTF-8”, or upload the .xlsx itself."))  # fmt: skip
    if data.startswith(UTF16_BOMS):
        raise FileRefused(_("The file is saved as UTF-16 (Excel's “Unicode Text”). In Excel choose File › Save As › "
                            "“CSV UTF-8 (Comma delimited)”, then upload that file."))  # fmt: skip
    try:
        return data.decode("utf-8-sig")  # strict: a wrong encoding is refused, never guessed at
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRefused(
            _("The file is not in UTF-8: byte 0x%(byte)02X on line %(line)s is not UTF-8 text. It was probably saved "
              "in an older encoding, such as Windows-1250 or ISO-8859-2 (Excel's plain “CSV”). In Excel choose File › "
              "Save As › “CSV UTF-8 (Comma delimited)”, or upload the .xlsx itself.")
            % {"byte": data[exc.start], "line": line}
        ) from exc  # fmt: skip


def _delimiter(text: str) -> str:
    """The delimiter that splits the header row into the most cells (`,` on a tie): Excel in Romanian and most EU
    locales writes `;`, elsewhere `,`; a "Text (Tab delimited)" file uses tabs."""
    first = text.lstrip("\r\n").splitlines()[0] if text.strip() else ""
    counts = {d: len(next(csv.reader([first], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equals: ","


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    number = 0
    try:
        for row in reader:
            number += 1
            yield number, row
    except csv.Error as exc:
        raise FileRefused(
            _("The file is not a CSV we can read: line %(line)s is malformed (%(problem)s). Check the quotes on that "
              "line, or save the file again from Excel as “CSV UTF-8”.") % {"line": reader.line_num, "problem": exc}
        ) from exc  # fmt: skip


def _unreadable_workbook() -> FileRefused:
    return FileRefused(_("This file is not an Excel workbook we can read. Save it again from Excel as .xlsx, or as "
                         "“CSV UTF-8”."))  # fmt: skip


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, Sequence[Any]]]:
    """The first worksheet's rows (read-only: streamed, never the whole sheet in memory); a formula cell comes as
    its formula text ("=…"), never as a value computed elsewhere."""
    from openpyxl import load_workbook  # only imports need it: the web process loads it on the first one

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise _unreadable_workbook() from exc
    if unpacked > XLSX_UNPACKED_MOST:  # zipfile never unpacks more than a part's declared size
        raise FileRefused(_("This workbook unpacks to far more than a list of people: it cannot be imported."))
    with warnings.catch_warnings():  # openpyxl warns about what it skips (styles, extensions): nothing to tell
        warnings.simplefilter("ignore")
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        except Exception as exc:  # a hostile or broken workbook fails in many ways; each means the same here
            raise _unreadable_workbook() from exc
        try:
            if not book.worksheets:
                raise FileRefused(_("The workbook has no worksheet."))
            rows = book.worksheets[0].iter_rows(values_only=True)
            number = 0
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    return
                except Exception as exc:
                    raise _unreadable_workbook() from exc
                number += 1
                yield number, row
        finally:
            book.close()


def cell_text(value: Any) -> str:
    """One cell as the text the form would have received: trimmed and NFC-normalised; a spreadsheet's number
    without a spurious `.0`, its date as YYYY-MM-DD, its boolean as yes / no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        value = int(value) if value.is_integer() and abs(value) < 1e15 else value
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        value = value.isoformat()
    return unicodedata.normalize("NFC", str(value).strip())


def _table(kind: str, delimiter: str, rows: Iterable[tuple[int, Sequence[Any]]]) -> Table:
    header: tuple[str, ...] | None = None
    body: list[tuple[int, tuple[str, ...]]] = []
    for number, raw in rows:
        cells = tuple(cell_text(value) for value in raw)
        if not any(cells):
            continue  # blank rows (and an .xlsx's empty formatted ones) are no one
        if len(cells) > MAX_COLUMNS and any(cells[MAX_COLUMNS:]):
            raise FileRefused(_("Row %(row)s has more than %(most)s columns: this is not a list we can import.")
                              % {"row": number, "most": MAX_COLUMNS})  # fmt: skip
        if any(len(cell) > MAX_CELL for cell in cells):
            raise FileRefused(_("Row %(row)s has a cell of more than %(most)s characters: this is not a list we can "
                                "import.") % {"row": number, "most": format_number(MAX_CELL)})  # fmt: skip
        if header is None:
            header = cells
            continue
        body.append((number, cells))
        if len(body) > MAX_ROWS:
            raise FileRefused(
                ngettext("The list has more than %(most)s row of people; split it and import each part.",
                         "The list has more than %(most)s rows of people; split it and import each part.", MAX_ROWS)
                % {"most": format_number(MAX_ROWS)}
            )  # fmt: skip
    if header is None:
        raise FileRefused(_empty())
    if not body:
        raise FileRefused(_("The file has a header row but no one under it: add one row per person."))
    return Table(kind, delimiter, header, tuple(body))
