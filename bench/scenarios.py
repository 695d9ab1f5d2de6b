"""The HTTP scenarios: registration rush (PostgreSQL and embedded SQLite; with custom questions), join flow, logins
beside /healthz."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench import fixtures
from bench.harness import LOG_DIR, Server, form_session, wrk, wrk_until_stopped
from webinar.links.tokens import JOIN, make_token


@dataclass(frozen=True)
class Scale:
    quick: bool

    @property
    def seconds(self) -> float:
        return 10 if self.quick else 30


def result(scenario: str, value: float, unit: str, baseline: float, target: str, ok: bool, **extra: object) -> dict:
    ratio = value / baseline if baseline else 0.0
    row = {"scenario": scenario, "result": round(value, 2), "unit": unit, "baseline": round(baseline, 2)}
    return row | {"ratio": round(ratio, 3), "target": target, "pass": bool(ok), **extra}


def baseline_rates(baseline: Server, scale: Scale) -> dict[str, float]:
    """(a) bare "ok" and (b) form + one raw INSERT, at the registration's 64 connections."""
    ok = wrk(baseline.url + "/ok", "healthz.lua", scale.seconds / 2, 64, 2)
    insert = wrk(baseline.url, "register.lua", scale.seconds, 64, 2, ["/register", "c=1", "x", "1", "base", "303"])
    print(f"  baseline (a) ok: {ok.rate:.0f}/s p99 {ok.p99_ms:.1f} ms, errors {ok.errors}", flush=True)
    print(f"  baseline (b) form+INSERT: {insert.rate:.0f}/s p99 {insert.p99_ms:.1f} ms, errors {insert.errors}")
    return {"a": ok.rate, "b": insert.rate, "a_p99": ok.p99_ms}


async def outbox_mismatches(url: str, event_id: int) -> tuple[int, int]:
    """The event's registrations, and how many of them lack exactly one outbox message."""
    conn = await asyncpg.connect(url)
    try:
        total = await conn.fetchval("SELECT count(*) FROM registrations WHERE event_id = $1", event_id)
        bad = await conn.fetchval(
            "SELECT count(*) FROM registrations r WHERE r.event_id = $1 AND "
            "(SELECT count(*) FROM outbox o WHERE o.registration_id = r.id) <> 1",
            event_id,
        )
    finally:
        await conn.close()
    return int(total), int(bad)


def registration(server: Server, db_url: str, event_id: int, rates: dict[str, float], scale: Scale) -> dict:
    cookie, csrf, version = form_session(f"{server.url}/events/bench-register")
    path = "/events/bench-register/register"
    wrk(server.url, "register.lua", 3, 64, 2, [path, cookie, csrf, version, "warm"])
    run = wrk(server.url, "register.lua", scale.seconds, 64, 2, [path, cookie, csrf, version, "run"])
    total, bad = asyncio.run(outbox_mismatches(db_url, event_id))
    ratio = run.rate / rates["b"]
    ok = ratio >= 0.5 and run.p99_ms < 150 and run.errors == 0 and bad == 0 and total > 0
    print(
        f"  registration: {run.rate:.0f}/s p99 {run.p99_ms:.1f} ms errors {run.errors}; {total} rows, {bad} bad;"
        f" wrk CPU {run.raw['wrk_cpu_s']} s in {run.seconds:.1f} s"
    )
    return result(
        "registration", run.rate, "registrations/s", rates["b"], ">= 0.5 x baseline (b), p99 < 150 ms, 0 errors",
        ok, p99_ms=run.p99_ms, errors=run.errors, registrations=total, outbox_mismatches=bad,
    )  # fmt: skip


async def _answer_mismatches(url: str, event_id: int, per_registration: int) -> tuple[int, int]:
    """Registrations of the event, and those without exactly one outbox message and `per_registration` answers.
    Then the queued e-mails of the earlier rush are dropped, so the mail worker is as idle at the start of the
    next rush as it was at the start of the first."""
    conn = await asyncpg.connect(url)
    try:
        total = await conn.fetchval("SELECT count(*) FROM registrations WHERE event_id = $1", event_id)
        bad = await conn.fetchval(
            "SELECT count(*) FROM registrations r WHERE r.event_id = $1 AND ("
            "(SELECT count(*) FROM outbox o WHERE o.registration_id = r.id) <> 1 OR "
            "(SELECT count(*) FROM answers a WHERE a.registration_id = r.id) <> $2)",
            event_id, per_registration,
        )  # fmt: skip
    finally:
        await conn.close()
    return int(total), int(bad)


async def drop_queued_mail(url: str) -> None:
    """Drop the e-mails still queued: the next scenario starts with the mail sender idle, as the one before did."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM outbox WHERE status = 'queued'")
    finally:
        await conn.close()


def questions(server: Server, db_url: str, event_id: int, answers: str, rush: dict, scale: Scale) -> dict:
    """The registration rush again on an event with five custom questions, every one answered, right after the
    rush without them and under the same conditions (64 connections, the mail worker idle at the start)."""
    asyncio.run(drop_queued_mail(db_url))
    cookie, csrf, version = form_session(f"{server.url}/events/bench-questions")
    path = "/events/bench-questions/register"
    wrk(server.url, "register.lua", 3, 64, 2, [path, cookie, csrf, version, "warm", "303", answers])
    run = wrk(server.url, "register.lua", scale.seconds, 64, 2, [path, cookie, csrf, version, "run", "303", answers])
    total, bad = asyncio.run(_answer_mismatches(db_url, event_id, len(fixtures.QUESTIONS)))
    ratio = run.rate / rush["result"] if rush["result"] else 0.0
    ok = ratio >= 0.7 and run.p99_ms < 150 and run.errors == 0 and bad == 0 and total > 0
    print(f"  questions: {run.rate:.0f}/s p99 {run.p99_ms:.1f} ms errors {run.errors}; {total} rows, {bad} bad")
    return result(
        "questions", run.rate, "registrations/s, 5 questions", rush["result"],
        ">= 0.7 x the registration rush, p99 < 150 ms, 0 errors", ok,
        p99_ms=run.p99_ms, errors=run.errors, registrations=total, mismatches=bad,
    )  # fmt: skip


def join(server: Server, secret: str, reg_ids: list[int], expires_at, rates: dict[str, float], scale: Scale) -> dict:
    tokens = [make_token(secret, JOIN, reg_id, 1, expires_at) for reg_id in reg_ids]
    path = LOG_DIR / "join-tokens.txt"
    path.write_text("\n".join(tokens) + "\n")
    wrk(server.url, "join.lua", 2, 32, 32, ["bench-join", str(path)])
    run = wrk(server.url, "join.lua", scale.seconds, 32, 32, ["bench-join", str(path)])
    flows = run.rate / 2  # each flow is two requests: the join link, then the stream page
    ok = flows / rates["b"] >= 0.4 and run.p99_ms < 200 and run.errors == 0
    print(f"  join: {flows:.0f} flows/s p99 {run.p99_ms:.1f} ms errors {run.errors} ({len(tokens)} registrants)")
    return result(
        "join", flows, "join+watch flows/s", rates["b"], ">= 0.4 x baseline (b), p99 < 200 ms", ok,
        p99_ms=run.p99_ms, errors=run.errors, registrants=len(tokens),
    )  # fmt: skip


def embedded(server: Server, db_path: Path, event_id: int, rates: dict[str, float], scale: Scale) -> dict:
    cookie, csrf, version = form_session(f"{server.url}/events/bench-register")
    path = "/events/bench-register/register"
    wrk(server.url, "register.lua", 2, 16, 2, [path, cookie, csrf, version, "warm"])
    run = wrk(server.url, "register.lua", scale.seconds, 16, 2, [path, cookie, csrf, version, "run"])
    with sqlite3.connect(db_path) as conn:
        total = conn.execute("SELECT count(*) FROM registrations WHERE event_id = ?", (event_id,)).fetchone()[0]
        bad = conn.execute(
            "SELECT count(*) FROM registrations r WHERE r.event_id = ? AND "
            "(SELECT count(*) FROM outbox o WHERE o.registration_id = r.id) <> 1",
            (event_id,),
        ).fetchone()[0]
    # A ratio, not a rate (issue 23): an absolute figure does not survive a machine that runs at half speed that day.
    ok = run.rate >= 0.5 * rates["b"] and run.p99_ms < 100 and run.errors == 0 and bad == 0
    print(f"  embedded: {run.rate:.0f}/s p99 {run.p99_ms:.1f} ms errors {run.errors}; {total} rows, {bad} bad")
    return result(
        "embedded", run.rate, "registrations/s", rates["b"], ">= 0.5 x (b), p99 < 100 ms, 0 errors (SQLite)", ok,
        p99_ms=run.p99_ms, errors=run.errors, registrations=total, outbox_mismatches=bad,
    )  # fmt: skip


async def _login_storm(server: Server, emails: list[str]) -> tuple[int, int]:
    """One password login per address, all at once: (successful, other)."""
    page = f"{server.url}/events/bench-login/login"
    cookie, csrf, _version = form_session(page)
    limits = httpx.Limits(max_connections=len(emails), max_keepalive_connections=len(emails))
    async with httpx.AsyncClient(limits=limits, timeout=600) as client:

        async def one(i: int, email: str) -> bool:
            headers = {"Cookie": cookie, "X-Forwarded-For": f"10.200.{i // 250}.{i % 250}"}
            data = {"csrf_token": csrf, "email": email, "password": fixtures.PASSWORD}
            try:
                return (await client.post(page, data=data, headers=headers)).status_code == 303
            except httpx.HTTPError:
                return False

        outcomes = await asyncio.gather(*(one(i, e) for i, e in enumerate(emails)))
    return sum(outcomes), len(outcomes) - sum(outcomes)


def login(server: Server, emails: list[str], scale: Scale) -> dict:
    idle = wrk(server.url + "/healthz", "healthz.lua", 5, 4, 2)
    with wrk_until_stopped(server.url + "/healthz", "healthz.lua", 4, 2) as probe:
        time.sleep(0.5)
        started = time.monotonic()
        done, failed = asyncio.run(_login_storm(server, emails))
        seconds = time.monotonic() - started
    run = probe.result
    ok = run.p99_ms < 200 and failed == 0 and done > 0 and run.errors == 0
    print(f"  login: /healthz p99 {run.p99_ms:.1f} ms (idle {idle.p99_ms:.1f}); {done} logins ok, {failed} failed,"
          f" {seconds:.1f} s")  # fmt: skip
    return result(
        "login", run.p99_ms, "ms p99 of /healthz", idle.p99_ms, "/healthz p99 < 200 ms during 200 concurrent logins",
        ok, logins=done, login_failures=failed, healthz_errors=run.errors, storm_seconds=round(seconds, 1),
    )  # fmt: skip
