"""`python -m bench.xlsx_writers [ROWS]`: the .xlsx writers we could use, timed on the same traffic-shaped rows.

How reports/writer.py was chosen: openpyxl's write-only mode (what we had), xlsxwriter's constant_memory mode (when
it is importable: it is not a dependency) and our own sheet XML, each writing ROWS rows (default 200,000) of the
traffic report to a file; the CSV writer on the same rows is the yardstick. PostgreSQL's COPY path, which writes
the same XML in the database, is timed by the `export` scenario.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from zoneinfo import ZoneInfo

from reports import writer
from reports.writer import Row

ZONE = ZoneInfo("Europe/Bucharest")
HEADER = ["Email", "First name", "Last name", "Login at", "Logout at", "Minutes", "IP address", "End reason"]
START = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)


def rows(count: int) -> Iterator[Row]:
    for n in range(count):
        login = START + dt.timedelta(seconds=n)
        yield (f"p{n}@example.org", "Ștefan", f"Țepeș {n}", login, login + dt.timedelta(minutes=42), 42.0,
               "10.1.2.3", "left")  # fmt: skip


async def _aiter(count: int) -> AsyncIterator[Row]:
    for row in rows(count):
        yield row


def ours(count: int) -> int:
    async def run() -> int:
        size = 0
        async for chunk in writer.xlsx_stream("Traffic", HEADER, writer.xlsx_row_chunks(_aiter(count), ZONE)):
            size += len(chunk)
        return size

    return asyncio.run(run())


def csv(count: int) -> int:
    async def run() -> int:
        return sum([len(c) async for c in writer.csv_stream(HEADER, _aiter(count), ZONE)])

    return asyncio.run(run())


def openpyxl_write_only(count: int) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Traffic")
    sheet.append(HEADER)
    for row in rows(count):
        cells = []
        for value in row:
            local = value.astimezone(ZONE).replace(tzinfo=None) if isinstance(value, dt.datetime) else value
            cell = WriteOnlyCell(sheet, value=local)
            if isinstance(value, dt.datetime):
                cell.number_format = writer.XLSX_DATETIME_FORMAT
            cells.append(cell)
        sheet.append(cells)
    with tempfile.TemporaryFile() as out:
        book.save(out)
        return out.tell()


def xlsxwriter_constant_memory(count: int) -> int:
    import xlsxwriter  # type: ignore[import-not-found, unused-ignore]

    with tempfile.NamedTemporaryFile(suffix=".xlsx") as out:
        book = xlsxwriter.Workbook(out.name, {"constant_memory": True, "strings_to_formulas": False})
        sheet = book.add_worksheet("Traffic")
        dates = book.add_format({"num_format": writer.XLSX_DATETIME_FORMAT})
        sheet.write_row(0, 0, HEADER)
        for r, row in enumerate(rows(count), 1):
            for c, value in enumerate(row):
                if isinstance(value, dt.datetime):
                    sheet.write_datetime(r, c, value.astimezone(ZONE).replace(tzinfo=None), dates)
                elif isinstance(value, str):
                    sheet.write_string(r, c, writer.neutralise(value))
                else:
                    sheet.write_number(r, c, value)
        book.close()
        return out.seek(0, 2)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    writers: list[tuple[str, Callable[[int], int]]] = [
        ("csv (yardstick)", csv), ("ours", ours), ("openpyxl write-only", openpyxl_write_only),
        ("xlsxwriter constant_memory", xlsxwriter_constant_memory),
    ]  # fmt: skip
    base = 0.0
    for name, write in writers:
        started = time.perf_counter()
        try:
            size = write(count)
        except ImportError as missing:
            print(f"{name:28} not installed ({missing.name})")
            continue
        seconds = time.perf_counter() - started
        base = base or seconds
        print(
            f"{name:28} {seconds:7.2f} s  {count / seconds:9.0f} rows/s  {size:>11,} bytes  {seconds / base:5.1f} x csv"
        )


if __name__ == "__main__":
    main()
