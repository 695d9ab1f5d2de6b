"""The `certificates` scenario: the organiser's ZIP of 2,000 certificates (issued by that first download, then
downloaded again) against a bare loop of fpdf2 drawing the same page in-process; the server's memory stays flat."""

from __future__ import annotations

import tempfile
import time
import zipfile

import asyncpg

from bench import fixtures
from bench.export import staff_client
from bench.harness import RssSampler, Server
from webinar.certificates import pdf

COUNT = 2000
SERIES = "BENCH-2026"


async def add_certificate_data(url: str, event_id: int, count: int) -> None:
    """`count` approved registrants who each watched the whole live window (so every one qualifies)."""
    ids = await fixtures.add_registrants(url, event_id, "certificates", count)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO viewing_sessions (event_id, registration_id, started_at, last_seen_at, ended_at, end_reason,"
            " ip, user_agent, kind) SELECT $1, r, $2::timestamptz, $3::timestamptz, $3::timestamptz, 'left',"
            " '10.0.0.1', 'bench', 'live' FROM unnest($4::bigint[]) AS r",
            event_id, fixtures.ATTENDANCE_START, fixtures.ATTENDANCE_END, ids,
        )  # fmt: skip
    finally:
        await conn.close()


def bare_loop(count: int) -> float:
    """Seconds fpdf2 takes to draw `count` times the page the ZIP holds (the same code, no database, no HTTP)."""
    page = pdf.Page(
        language="ro", full_name="Ion Popescu", member_id=None, event_title="Bench certificates",
        starts_at_local="20 noiembrie 2026", minutes=240, credits="4 credite EMC", organiser="Bench Org",
        number=f"{SERIES}-1-ABCDEFGH", verification_url=f"http://127.0.0.1/certificates/{SERIES}-1-ABCDEFGH",
    )  # fmt: skip
    started = time.perf_counter()
    for _ in range(count):
        pdf.render(page)
    return time.perf_counter() - started


def download_zip(server: Server, client, path: str) -> dict:
    """Stream the ZIP to a temporary file: its time, size, entries and the server's memory growth meanwhile."""
    started = time.perf_counter()
    size = 0
    with tempfile.TemporaryFile() as out:
        with RssSampler(server, interval=0.1) as rss, client.stream("GET", path) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                size += len(chunk)
                out.write(chunk)
        seconds = time.perf_counter() - started
        out.seek(0)
        entries = len(zipfile.ZipFile(out).namelist())
    return {
        "seconds": round(seconds, 2), "bytes": size, "entries": entries,
        "rss_growth_mb": round((rss.peak - rss.start_rss) / 2**20, 1),
    }  # fmt: skip


def run(server: Server, event_id: int, count: int) -> dict:
    client = staff_client(server)
    path = f"/admin/events/{event_id}/certificates.zip"
    first = download_zip(server, client, path)  # issues every certificate, then streams them
    again = download_zip(server, client, path)
    base_seconds = bare_loop(count)
    rate, base_rate = count / again["seconds"], count / base_seconds
    growth = max(first["rss_growth_mb"], again["rss_growth_mb"])
    ok = rate / base_rate >= 0.5 and first["entries"] == again["entries"] == count and growth < 200
    print(f"  certificates: first (issuing) {first}; again {again}; bare fpdf2 loop {base_seconds:.2f} s")
    return {
        "scenario": "certificates", "result": round(rate, 1), "unit": "certificates/s (ZIP)",
        "baseline": round(base_rate, 1), "ratio": round(rate / base_rate, 3),
        "target": ">= 0.5 x a bare fpdf2 loop drawing the same page, memory growth < 200 MB", "pass": ok,
        "certificates": count, "first_zip": first, "zip": again, "bare_loop_seconds": round(base_seconds, 2),
    }  # fmt: skip


EVENT = {
    "starts_at": fixtures.ATTENDANCE_START, "ends_at": fixtures.ATTENDANCE_END, "certificates": True,
    "certificate_series": SERIES, "credits": "4 credite EMC", "attendance_minutes": 200,
}  # fmt: skip
