"""The shared writer on its own: formula neutralisation for any text (property test), times, numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from reports.writer import FORMULA_TRIGGERS, csv_cell, encode_rows, neutralise

ZONE = ZoneInfo("Europe/Bucharest")


@given(st.lists(st.lists(st.text(), min_size=1, max_size=5), min_size=1, max_size=5), st.sampled_from([",", ";"]))
def test_no_parsed_cell_can_start_a_formula(rows: list[list[str]], delimiter: str) -> None:
    text = encode_rows(rows, ZONE, delimiter)
    parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert len(parsed) == len(rows)
    for row_in, row_out in zip(rows, parsed, strict=True):
        assert len(row_out) == len(row_in)
        for original, cell in zip(row_in, row_out, strict=True):
            assert not cell.startswith(FORMULA_TRIGGERS)
            assert cell in (original, "'" + original)  # nothing else changes, the content survives the round trip


def test_neutralise_each_trigger_and_nothing_else() -> None:
    for trigger in ("=", "+", "-", "@", "\t", "\r"):
        assert neutralise(trigger + "1+1") == "'" + trigger + "1+1"
    assert neutralise("Ștefan = 1") == "Ștefan = 1"
    assert neutralise("") == ""


def test_cells_times_numbers_and_booleans() -> None:
    assert csv_cell(dt.datetime(2026, 11, 22, 12, 5, 7, 999, tzinfo=dt.UTC), ZONE) == "2026-11-22 14:05:07+02:00"
    assert csv_cell(dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC), ZONE) == "2026-07-01 15:00:00+03:00"
    assert csv_cell(12.5, ZONE) == "12.5" and csv_cell(12.5, ZONE, decimal_comma=True) == "12,5"
    assert csv_cell(-3, ZONE) == "-3"  # numbers are numbers, not text to neutralise
    assert csv_cell(None, ZONE) == "" and csv_cell(True, ZONE) == "yes" and csv_cell(False, ZONE) == "no"
