"""The `watch` scenario: N viewers on the presence WebSocket at once, heartbeats timed, sessions checked after."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time

import asyncpg

from bench import fixtures
from bench.harness import LOG_DIR, RssSampler, Server

VIEWERS_PER_PROCESS = 2500


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def drive(url: str, origin: str, viewers: list[tuple[int, str]], hold: float, heartbeat: float, tag: str) -> list:
    """Run the viewers in several client processes; every viewer's record."""
    procs = []
    start_at = time.time()
    # Connecting takes a while (20,000 viewers took 130 s on a slow day); the hold starts once everyone is in.
    ramp = len(viewers) / 100
    chunks = [viewers[i : i + VIEWERS_PER_PROCESS] for i in range(0, len(viewers), VIEWERS_PER_PROCESS)]
    for n, chunk in enumerate(chunks):
        spec = {"url": url, "origin": origin, "hold": hold + ramp, "heartbeat": heartbeat, "start_at": start_at,
                "source": f"127.0.1.{n + 1}"}  # fmt: skip
        spec_path, out_path = LOG_DIR / f"viewers-{tag}-{n}.json", LOG_DIR / f"viewers-{tag}-{n}.out.json"
        spec_path.write_text(json.dumps(spec | {"viewers": chunk}))
        argv = [sys.executable, "-m", "bench.viewers", str(spec_path), str(out_path)]
        procs.append((subprocess.Popen(argv, cwd=fixtures.ROOT), out_path))
    records = []
    for proc, out_path in procs:
        proc.wait()
        records += json.loads(out_path.read_text())["viewers"]
    return records


async def _check_sessions(db_url: str, event_id: int, records: list[dict]) -> int:
    """How many viewers lack a correctly recorded session (one, opened and closed when they did, 'left')."""
    by_reg = {r["reg"]: r for r in records if r.get("ok")}
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT registration_id, count(*) AS n, min(extract(epoch FROM started_at)) AS started,"
            " max(extract(epoch FROM ended_at)) AS ended, bool_and(end_reason = 'left') AS left_ok"
            " FROM viewing_sessions WHERE event_id = $1 GROUP BY registration_id",
            event_id,
        )
    finally:
        await conn.close()
    found = {r["registration_id"]: r for r in rows}
    bad = 0
    for reg, rec in by_reg.items():
        row = found.get(reg)
        if row is None or row["n"] != 1 or not row["left_ok"] or row["ended"] is None:
            bad += 1
            continue
        if not rec["t_connect"] - 1 <= float(row["started"]) <= rec["t_open"] + 1:
            bad += 1
        elif not rec.get("t_close", 0) - 1 <= float(row["ended"]) <= rec.get("t_closed", 0) + 5:
            bad += 1
    return bad + (len(found) - len(by_reg) if len(found) > len(by_reg) else 0)


def summarise(records: list[dict]) -> dict:
    """Heartbeat times while everyone is connected (the hold: what the target is about), and, apart, those sent
    while the others were still connecting (the join rush, which the `join` scenario measures on its own)."""
    everyone_in = max((r["t_open"] for r in records if r.get("ok")), default=0.0)
    held = [ms for r in records for sent_at, ms in r["acks"] if sent_at >= everyone_in]
    ramp = [ms for r in records for sent_at, ms in r["acks"] if sent_at < everyone_in]
    return {
        "viewers": len(records),
        "connected": sum(1 for r in records if r.get("ok")),
        "failed": sum(1 for r in records if "error" in r),
        "connect_seconds": round(everyone_in - min((r["t_connect"] for r in records if r.get("ok")), default=0.0), 1),
        "heartbeats": len(held),
        "p50_ms": round(percentile(held, 50), 1),
        "p99_ms": round(percentile(held, 99), 1),
        "heartbeats_while_connecting": len(ramp),
        "p50_ms_while_connecting": round(percentile(ramp, 50), 1),
        "p99_ms_while_connecting": round(percentile(ramp, 99), 1),
    }


async def _reset(db_url: str, event_id: int) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("DELETE FROM viewing_sessions WHERE event_id = $1", event_id)
    finally:
        await conn.close()


def step(server: Server, db_url: str, event_id: int, viewers: list, hold: float, tag: str, idle_rss: int) -> dict:
    """One level of the ramp: connect everyone, hold, close; the numbers and the session check. `idle_rss` is what
    the serving processes held before the first level (a process keeps what an earlier level made it grow by)."""
    asyncio.run(_reset(db_url, event_id))
    ws_url = server.url.replace("http://", "ws://") + "/events/bench-watch/presence"
    with RssSampler(server, interval=1.0) as rss:
        records = drive(ws_url, server.url, viewers, hold, 30.0, tag)
    summary = summarise(records)
    deadline = time.monotonic() + 60  # a loaded server may still be writing the last closes
    while (bad := asyncio.run(_check_sessions(db_url, event_id, records))) and time.monotonic() < deadline:
        time.sleep(2)
    summary["bad_sessions"] = bad
    summary["rss_mb"] = round(rss.peak / 2**20)
    # What each viewer costs: the peak over what the serving processes held before anyone connected.
    summary["rss_kb_per_viewer"] = round((rss.peak - idle_rss) / 1024 / max(len(viewers), 1), 1)
    print(f"  watch {tag}: {summary}", flush=True)
    return summary


def baseline(baseline_server: Server, viewers: list, hold: float) -> dict:
    """The same viewers against a bare WebSocket that acks heartbeats without any database work."""
    ws_url = baseline_server.url.replace("http://", "ws://") + "/ws"
    records = drive(ws_url, baseline_server.url, viewers, hold, 30.0, "baseline")
    summary = summarise(records)
    print(f"  watch baseline (bare WebSocket): {summary}", flush=True)
    return summary


def ramp_levels(quick: bool) -> list[int]:
    if quick:
        return [1000]
    extra = [int(x) for x in os.environ.get("BENCH_WATCH_RAMP", "20000").split(",") if x.strip()]
    return [10000, *extra]
