"""The benchmark runner: prepares the databases, starts the servers, runs every scenario, writes results.json.

`python -m bench` (or `make bench`; `QUICK=1` for the short run). Environment: TEST_DATABASE_URL (the
PostgreSQL server; a scratch database `webinar_bench` is made on it), BENCH_WATCH_RAMP (full run: viewer
counts tried after 10,000, default "20000"), BENCH_ONLY (a comma-separated subset of the scenarios, for
working on one; the baselines always run), BENCH_PORT_OFFSET (added to the servers' ports 8101-8103 and the
reminders sink's 8125) and BENCH_DB_NAME (instead of `webinar_bench`): for a second bench on the same machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import time
from pathlib import Path

from bench import api, attendance, certificates, crowds, export, fixtures, flow, reminders, scenarios, watch
from bench.harness import LOG_DIR, baseline_app, ensure_wrk, mail_worker, platform, raise_fd_limit
from bench.scenarios import Scale, result
from webinar.settings import load_settings

RESULTS = fixtures.ROOT / "bench" / "results.json"
# BENCH_PORT_OFFSET moves the three ports, for a second bench on the same machine (a busy port is not ours).
_OFFSET = int(os.environ.get("BENCH_PORT_OFFSET", "0"))
PG_PORT, SQLITE_PORT, BASELINE_PORT = 8101 + _OFFSET, 8102 + _OFFSET, 8103 + _OFFSET
SCENARIOS = (
    "registration", "questions", "join", "watch", "export", "attendance", "certificates", "embedded", "login",
    "reminders", "crowds", "api", "flow",
)  # fmt: skip


def wanted() -> set[str]:
    """The scenarios to run: all of them, or those BENCH_ONLY names."""
    only = {name.strip() for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip()}
    unknown = only - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown scenario(s) {', '.join(sorted(unknown))}; known: {', '.join(SCENARIOS)}")
    chosen = only or set(SCENARIOS)
    # Compared with the rush of the same run.
    return chosen | {"registration"} if chosen & {"questions", "crowds", "flow"} else chosen


def _env(database_url: str, port: int, secret: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SECRET_KEY"))}
    return env | {
        "DATABASE_URL": database_url, "SECRET_KEY": secret, "BASE_URL": f"http://127.0.0.1:{port}",
        "TRUSTED_PROXIES": "127.0.0.1/32", "MAIL_BACKEND": "console", "WEBINAR_VAR_DIR": str(var_dir),
        "BENCH_DATABASE_URL": database_url, **crowds.EASY,
        # The web processes serve; the mail sender and sweeper run in a separate `webinar worker` (see run()).
        "WEBINAR_BACKGROUND": "false",
    }  # fmt: skip


def _table(rows: list[dict]) -> str:
    lines = [f"{'scenario':<13} {'result':>12} {'unit':<24} {'baseline':>10} {'ratio':>7}  {'pass':<5} target"]
    for r in rows:
        lines.append(
            f"{r['scenario']:<13} {r['result']:>12} {r['unit'][:24]:<24} {r['baseline']:>10} {r['ratio']:>7}  "
            f"{'PASS' if r['pass'] else 'FAIL':<5} {r['target']}"
        )
    return "\n".join(lines)


def _pg_data(db_url: str, settings, quick: bool, run: set[str]) -> dict:
    slugs = {
        "bench-register": {},
        "bench-questions": {},
        "bench-join": {},
        "bench-watch": {},
        "bench-export": {},
        "bench-login": {"login": "link_and_password"},
        reminders.SLUG: reminders.event_overrides(),
        "bench-attendance": {
            "starts_at": fixtures.ATTENDANCE_START,
            "ends_at": fixtures.ATTENDANCE_END,
            "attendance_minutes": 120,
            "presence_checks": 3,
        },
        "bench-certificates": certificates.EVENT,
        crowds.SLUG: {},
        api.SLUG: {},
        **{slug: {} for slug in flow.SLUGS.values()},
    }
    events = asyncio.run(fixtures.create_events(settings, slugs, staff=True))
    ids = events.ids
    join_n, watch_n = (5000, 1000) if quick else (20000, max(watch.ramp_levels(False)))
    sessions, registrants = (200_000, 50_000) if quick else (1_000_000, 200_000)
    join_n = join_n if "join" in run else 0
    watch_n = watch_n if "watch" in run else 0
    if "export" not in run:
        sessions = registrants = 0
    print(f"  data: {join_n} join registrants, {watch_n} viewers, {registrants} + {sessions} export rows", flush=True)
    answers = asyncio.run(fixtures.add_questions(db_url, ids["bench-questions"]))
    join_ids = asyncio.run(fixtures.add_registrants(db_url, ids["bench-join"], "join", join_n))
    watch_ids = asyncio.run(fixtures.add_registrants(db_url, ids["bench-watch"], "watch", watch_n))
    from webinar.accounts.passwords import hash_password

    if "login" in run:
        pw_hash = asyncio.run(hash_password(fixtures.PASSWORD))
        asyncio.run(fixtures.add_registrants(db_url, ids["bench-login"], "login", 200, pw_hash))
    if "export" in run:
        asyncio.run(fixtures.add_export_data(db_url, ids["bench-export"], registrants, sessions))
    if "reminders" in run:
        asyncio.run(reminders.add_data(db_url, ids[reminders.SLUG], quick))
    attendance_n = (100_000, 1_000_000) if "attendance" in run else (0, 0)
    if "attendance" in run:
        asyncio.run(fixtures.add_attendance_data(db_url, ids["bench-attendance"], *attendance_n))
    if "certificates" in run:
        asyncio.run(certificates.add_certificate_data(db_url, ids["bench-certificates"], certificates.COUNT))
    token = asyncio.run(api.add_data(db_url, settings, ids[api.SLUG])) if "api" in run else ""
    cookies = asyncio.run(
        fixtures.add_attendee_sessions(db_url, str(settings.secret_key), ids["bench-watch"], watch_ids)
    )
    return {"ids": ids, "join_ids": join_ids, "viewers": list(zip(watch_ids, cookies, strict=True)),
            "sessions": sessions, "registrants": registrants, "attendance": attendance_n,
            "answers": answers, "api_token": token}  # fmt: skip


def holds(step: dict) -> bool:
    """Whether a level of the watch ramp holds issue 23's target: heartbeat p99 < 100 ms, at most 50 kB of RSS per
    viewer, every viewer connected and every session right."""
    return step["p99_ms"] < 100 and step["rss_kb_per_viewer"] <= 50 and not step["failed"] and not step["bad_sessions"]


def _watch(server, baseline, db_url: str, data: dict, quick: bool) -> dict:
    hold = 40 if quick else 180
    levels = watch.ramp_levels(quick)
    base = watch.baseline(baseline, data["viewers"][: levels[0]], min(hold, 35))
    steps, idle_rss = {}, server.rss()
    for n, level in enumerate(levels):
        steps[level] = watch.step(server, db_url, data["ids"]["bench-watch"], data["viewers"][:level],
                                  hold if n == 0 else 60, f"{level}", idle_rss)  # fmt: skip
        if steps[level]["p99_ms"] >= 100 or steps[level]["failed"]:
            break
    first = steps[levels[0]]
    ok = first["p99_ms"] < 100 and first["bad_sessions"] == 0 and first["failed"] == 0 and first["rss_mb"] < 1536
    reached = max((lv for lv, s in steps.items() if holds(s)), default=0)
    return result(
        "watch", first["p99_ms"], f"ms p99 heartbeat, {levels[0]} viewers", base["p99_ms"],
        "p99 < 100 ms, every session correct, RSS < 1.5 GB", ok,
        rss_mb=first["rss_mb"], rss_kb_per_viewer=first["rss_kb_per_viewer"], bad_sessions=first["bad_sessions"],
        steps=steps, max_viewers_held=reached,
    )  # fmt: skip


def main() -> int:
    quick = os.environ.get("QUICK", "") not in ("", "0")
    scale = Scale(quick)
    started = time.monotonic()
    ensure_wrk()
    print(f"open-files limit raised to {raise_fd_limit()}; {'QUICK' if quick else 'full'} run", flush=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    base_url = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = os.environ.get("BENCH_DB_NAME", "webinar_bench")  # another name for a second bench on the same server
    db_url = asyncio.run(fixtures.recreate_database(base_url, name))
    secret = secrets.token_urlsafe(48)
    pg_env = _env(db_url, PG_PORT, secret, LOG_DIR / "pg")
    fixtures.migrate(pg_env)
    settings = load_settings(pg_env)
    run = wanted()
    data = _pg_data(db_url, settings, quick, run)
    asyncio.run(_baseline_table(db_url))
    sqlite_dir = LOG_DIR / "sqlite"
    shutil.rmtree(sqlite_dir, ignore_errors=True)
    sqlite_dir.mkdir(parents=True)
    sqlite_url = f"sqlite:///{sqlite_dir / 'bench.db'}"
    sqlite_env = _env(sqlite_url, SQLITE_PORT, secret, sqlite_dir)
    fixtures.migrate(sqlite_env)
    sqlite_events = asyncio.run(fixtures.create_events(load_settings(sqlite_env), {"bench-register": {}}, False))

    rows: list[dict] = []
    servers = []
    try:
        baseline = baseline_app(BASELINE_PORT, pg_env).start("/ok")
        server = platform("platform-pg", PG_PORT, pg_env, workers=2).start()
        worker = mail_worker(pg_env).start(ready_path=None)
        servers += [baseline, server, worker]
        rates = scenarios.baseline_rates(baseline, scale)
        if "join" in run:
            print("join", flush=True)
            expires_at = asyncio.run(_join_expiry(db_url, data["ids"]["bench-join"]))
            rows.append(scenarios.join(server, secret, data["join_ids"], expires_at, rates, scale))
        if "watch" in run:
            print("watch", flush=True)
            rows.append(_watch(server, baseline, db_url, data, quick))
        if "export" in run:
            print("export", flush=True)
            rows.extend(
                export.run(server, db_url, data["ids"]["bench-export"], data["sessions"], data["registrants"], quick)
            )
        if "attendance" in run:
            print("attendance", flush=True)
            event = asyncio.run(_event(db_url, data["ids"]["bench-attendance"]))
            rows.extend(attendance.run(server, db_url, event, *data["attendance"]))
        if "certificates" in run:
            print("certificates", flush=True)
            rows.append(certificates.run(server, data["ids"]["bench-certificates"], certificates.COUNT))
        if "api" in run:
            print("api", flush=True)
            rows.append(api.run(server, db_url, data["api_token"], data["ids"][api.SLUG]))
        if "login" in run:
            print("login", flush=True)
            emails = [f"p{i}@login.example" for i in range(1, 201)]
            rows.append(scenarios.login(server, emails, scale))
        if "reminders" in run:
            # Its own worker, delivering to the SMTP sink; the console worker must not take the reminders meanwhile.
            print("reminders", flush=True)
            worker.stop()
            rows.append(reminders.run(server, pg_env, db_url, data["ids"][reminders.SLUG], settings, quick))
            worker = mail_worker(pg_env).start(ready_path=None)
            servers.append(worker)
        if "registration" in run:
            # Last on PostgreSQL: the rush queues an e-mail per registration, which the mail worker writes and sends
            # for minutes afterwards. In life the rush is days before the event; here it must not share the
            # machine with the join rush and the watching.
            print("registration", flush=True)
            if len(run & {"join", "watch", "export", "login", "reminders"}) > 0:
                # (b) again, next to the rush it is compared with: the first one follows the bulk loads and comes
                # minutes earlier; the two have differed by a third in one run.
                rates = scenarios.baseline_rates(baseline, scale)
            rows.append(scenarios.registration(server, db_url, data["ids"]["bench-register"], rates, scale))
        rush = next((r for r in rows if r["scenario"] == "registration"), None)
        if "questions" in run and rush is not None:
            print("questions", flush=True)
            event_id = data["ids"]["bench-questions"]
            rows.append(scenarios.questions(server, db_url, event_id, data["answers"], rush, scale))
        if "crowds" in run and rush is not None:
            print("crowds", flush=True)
            rows.append(crowds.run(server, db_url, data["ids"][crowds.SLUG], settings, rush))
        server.stop()
        worker.stop()
        if "flow" in run and rush is not None:
            # Its own servers on the same port, as a user runs them: the loops inside, then a separate worker.
            print("flow", flush=True)
            rows.append(flow.run(pg_env, PG_PORT, db_url, data["ids"], rush, scale))
        if "embedded" in run:
            print("embedded", flush=True)
            # Embedded mode as `make run` runs it: the background loops inside the one web process (SQLite has one
            # writer, and the process serialises its write transactions; a second process would contend for it).
            embedded = platform("platform-sqlite", SQLITE_PORT, sqlite_env | {"WEBINAR_BACKGROUND": "true"}, 1).start()
            servers.append(embedded)
            rows.append(
                scenarios.embedded(embedded, sqlite_dir / "bench.db", sqlite_events.ids["bench-register"], rates, scale)
            )
    finally:
        for s in servers:
            s.stop()
    rows.sort(key=lambda r: SCENARIOS.index(r["scenario"].removesuffix("-xlsx")))  # each .xlsx row after its own
    RESULTS.write_text(json.dumps(rows, indent=2, default=str) + "\n")
    print()
    print(_table(rows))
    print(f"\n{RESULTS.relative_to(fixtures.ROOT)} written; {time.monotonic() - started:.0f} s in all.")
    return 0 if all(r["pass"] for r in rows) else 1


async def _event(db_url: str, event_id: int):
    """The stored event (its times and thresholds, as the export reads them)."""
    from webinar.db import DB
    from webinar.events.queries import by_id

    db = DB(load_settings({"DATABASE_URL": db_url, "SECRET_KEY": "x" * 40}))
    await db.connect()
    try:
        async with db.connection() as conn:
            return await by_id(conn, event_id)
    finally:
        await db.disconnect()


async def _baseline_table(db_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_baseline (id bigserial PRIMARY KEY, email varchar(254),"
            " first_name varchar(100), last_name varchar(100), organisation varchar(200), consent boolean,"
            " created_at timestamptz)"
        )
    finally:
        await conn.close()


async def _join_expiry(db_url: str, event_id: int):
    """The join links' expiry, as the platform computes it (event end + 7 days)."""
    import datetime as dt

    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        ends_at = await conn.fetchval("SELECT ends_at FROM events WHERE id = $1", event_id)
    finally:
        await conn.close()
    return ends_at + dt.timedelta(days=7)
