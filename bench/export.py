"""The `export` scenario: traffic.csv against psql's \\copy of the same rows, each .xlsx against its .csv."""

from __future__ import annotations

import subprocess
import time

import httpx

from bench import fixtures
from bench.harness import CSRF_RE, RssSampler, Server

ROUNDS = 3
BASELINE_SQL = (
    "SELECT r.email, r.first_name, r.last_name, vs.started_at, vs.ended_at, vs.ip, vs.end_reason"
    " FROM viewing_sessions vs JOIN registrations r ON r.id = vs.registration_id WHERE vs.event_id = {event_id}"
    " ORDER BY vs.id"
)


def staff_client(server: Server) -> httpx.Client:
    """An HTTP client logged in as the benchmark's operator."""
    client = httpx.Client(base_url=server.url, timeout=600)
    page = client.get("/admin/login")
    csrf = CSRF_RE.search(page.text).group(1)
    data = {"email": fixtures.STAFF_EMAIL, "password": fixtures.PASSWORD, "csrf_token": csrf, "next": ""}
    response = client.post("/admin/login", data=data)
    if response.status_code != 303:
        raise RuntimeError(f"staff login failed: {response.status_code}")
    return client


def psql_copy(db_url: str, event_id: int) -> tuple[float, int]:
    """psql \\copy of the export's rows to /dev/null: (seconds, bytes)."""
    started = time.perf_counter()
    sql = BASELINE_SQL.format(event_id=event_id)
    out = subprocess.run(["psql", db_url, "-c", f"\\copy ({sql}) to stdout csv"], capture_output=True, check=True)
    return time.perf_counter() - started, len(out.stdout)


def download(server: Server, client: httpx.Client, path: str) -> dict:
    """Stream one report; its time, size, row count and the server's memory growth meanwhile."""
    started = time.perf_counter()
    size, lines = 0, 0
    with RssSampler(server, interval=0.1) as rss, client.stream("GET", path) as response:
        response.raise_for_status()
        last = b""
        for chunk in response.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")  # a CRLF split across chunks
            last = chunk[-1:]
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "bytes": size,
        "lines": lines,
        "rss_growth_mb": round((rss.peak - rss.start_rss) / 2**20, 1),
    }


def best(downloads: list[dict]) -> dict:
    """The fastest of some downloads of one file, with the largest memory growth of any and every time."""
    return min(downloads, key=lambda t: t["seconds"]) | {
        "rss_growth_mb": max(t["rss_growth_mb"] for t in downloads),
        "all_seconds": [t["seconds"] for t in downloads],
    }


def xlsx_row(scenario: str, pairs: dict[str, tuple[dict, dict]]) -> dict:
    """The `<scenario>-xlsx` row: each .xlsx download against the .csv of the same rows in the same run (<= 5 x)."""
    ratios = {name: round(xlsx["seconds"] / csv["seconds"], 2) for name, (csv, xlsx) in pairs.items()}
    worst = max(ratios, key=lambda name: ratios[name])
    growth = max(xlsx["rss_growth_mb"] for _csv, xlsx in pairs.values())
    ok = ratios[worst] <= 5 and growth < 50
    return {
        "scenario": f"{scenario}-xlsx", "result": ratios[worst], "unit": f"x csv time ({worst}.xlsx)", "baseline": 1,
        "ratio": ratios[worst], "target": "each .xlsx <= 5 x its .csv, memory growth < 50 MB", "pass": ok,
        "xlsx_over_csv": ratios, "xlsx": {f"{name}.xlsx": xlsx for name, (_csv, xlsx) in pairs.items()},
    }  # fmt: skip


def run(server: Server, db_url: str, event_id: int, sessions: int, registrants: int, quick: bool) -> list[dict]:
    client = staff_client(server)
    base = f"/admin/events/{event_id}/reports"
    download(server, client, f"{base}/registered.csv")  # warm-up (and the workers' first import of the code)
    # One pass of each is at the mercy of the other processes on the machine (and of which run warmed the cache):
    # alternate them ROUNDS times and compare the best of each, keeping every time in the results.
    copies, traffics, traffic_xlsx = [], [], []
    for _ in range(ROUNDS):
        copies.append(psql_copy(db_url, event_id))
        traffics.append(download(server, client, f"{base}/traffic.csv"))
        traffic_xlsx.append(download(server, client, f"{base}/traffic.xlsx"))
    base_seconds, base_bytes = min(copies)
    traffic = best(traffics)
    registered, registered_xlsx = [], []
    for _ in range(ROUNDS):
        registered.append(download(server, client, f"{base}/registered.csv"))
        registered_xlsx.append(download(server, client, f"{base}/registered.xlsx"))
    pairs = {
        "traffic": (traffic, best(traffic_xlsx)),
        "registered": (best(registered), best(registered_xlsx)),
    }
    rate, base_rate = sessions / traffic["seconds"], sessions / base_seconds
    ok = rate / base_rate >= 0.8 and traffic["rss_growth_mb"] < 50
    print(f"  export: traffic.csv {traffic}; psql \\copy {base_seconds:.2f} s ({base_bytes} bytes)")
    print(f"  export: registered.csv {pairs['registered'][0]}; xlsx {[x for _c, x in pairs.values()]}", flush=True)
    return [
        {
            "scenario": "export", "result": round(rate), "unit": "rows/s (traffic.csv)", "baseline": round(base_rate),
            "ratio": round(rate / base_rate, 3), "target": ">= 0.8 x baseline (c), memory growth < 50 MB", "pass": ok,
            "sessions": sessions, "traffic_csv": traffic, "psql_copy_seconds": round(base_seconds, 2),
            "psql_copy_all_seconds": [round(c[0], 2) for c in copies],
            "registered_csv": pairs["registered"][0] | {"rows": registrants},
        },
        xlsx_row("export", pairs),
    ]  # fmt: skip
