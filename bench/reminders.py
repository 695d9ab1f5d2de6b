"""The `reminders` scenario: a reminder due at once to every approved registrant of an event, written and delivered
by the real `webinar worker` to a local SMTP sink, against a bare aiosmtplib loop sending the same number of prebuilt
messages over the same sink with the same number of connections, while wrk times the event page."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
import time

import aiosmtplib
import asyncpg

from bench import fixtures
from bench.harness import LOG_DIR, RssSampler, Server, mail_worker, wrk_until_stopped
from bench.scenarios import result
from webinar.registration import reminders
from webinar.settings import Settings

SLUG = "bench-remind"
OFFSET = 60  # the event's one reminder, minutes before the start
# The sink's port moves with BENCH_PORT_OFFSET as the servers' do (bench/run.py), for a second bench on the machine.
SINK_PORT = 8125 + int(os.environ.get("BENCH_PORT_OFFSET", "0"))
# `webinar worker` processes sending the reminders (BENCH_REMINDER_WORKERS): a deployment runs as many as it has
# cores to spare, each claiming its own messages (exactly once: tests/reliability/test_reminders_processes.py).
WORKERS = max(1, int(os.environ.get("BENCH_REMINDER_WORKERS", "2")))


def sizes(quick: bool) -> int:
    return 10_000 if quick else 50_000


class Sink:
    """bench/smtp_sink.py in its own process, on SINK_PORT."""

    def __init__(self, name: str, times: bool = False) -> None:
        self.status_file = LOG_DIR / f"{name}.json"
        self.status_file.unlink(missing_ok=True)
        # With `times`, each recipient's first acceptance, in this file once the sink has stopped.
        self.times_file = LOG_DIR / f"{name}-times.tsv" if times else None
        argv = [sys.executable, "-m", "bench.smtp_sink", str(SINK_PORT), str(self.status_file)]
        if self.times_file is not None:
            self.times_file.unlink(missing_ok=True)
            argv.append(str(self.times_file))
        self.server = Server(name, SINK_PORT, argv, {})

    def __enter__(self) -> Sink:
        self.server.env = dict(os.environ)
        self.server.start(ready_path=None)
        deadline = time.monotonic() + 10
        while not self.status_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def times(self) -> dict[str, float]:
        """Each recipient's first acceptance (unix time), once the sink has stopped (a sink made with `times`)."""
        if self.times_file is None or not self.times_file.exists():
            return {}
        pairs = (line.split("\t") for line in self.times_file.read_text().splitlines() if line)
        return {rcpt: float(at) for rcpt, at in pairs}

    def status(self) -> dict[str, float]:
        try:
            return json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {"count": 0, "unique": 0, "first": 0.0, "last": 0.0}

    def wait_for(self, n: int, within: float) -> dict[str, float]:
        deadline = time.monotonic() + within
        while self.status()["count"] < n and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        return self.status()


# How long before its moment the reminder is set: longer than the reminders job's interval, as a real reminder is
# known well ahead (a moment set closer than that is found up to an interval late, which is not the sending's time).
AHEAD_SECONDS = reminders.INTERVAL + 2


async def _make_due(db_url: str, event_id: int) -> float:
    """Move the event so that its reminder's moment comes AHEAD_SECONDS from now: its start OFFSET minutes and as
    many seconds ahead. The wall-clock time of the moment."""
    conn = await asyncpg.connect(db_url)
    try:
        due = await conn.fetchval(
            "UPDATE events SET starts_at = now() + $2 * interval '1 minute' + $3 * interval '1 second',"
            " ends_at = now() + interval '1 day', updated_at = now() WHERE id = $1"
            " RETURNING starts_at - $2 * interval '1 minute'",
            event_id, OFFSET, AHEAD_SECONDS,
        )  # fmt: skip
    finally:
        await conn.close()
    return due.timestamp()


async def _outbox(db_url: str, event_id: int) -> tuple[int, int, int, bytes]:
    """(reminder rows, distinct registrants among them, rows sent) and one sent message as the worker built it."""
    from webinar.mail.outbox import Message
    from webinar.mail.sender import wire

    conn = await asyncpg.connect(db_url)
    try:
        rows, people, sent = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT registration_id), count(*) FILTER (WHERE status = 'sent')"
            " FROM outbox WHERE event_id = $1 AND kind = 'reminder'",
            event_id,
        )
        one = await conn.fetchrow("SELECT * FROM outbox WHERE event_id = $1 AND status = 'sent' LIMIT 1", event_id)
    finally:
        await conn.close()
    message = wire(Message(**dict(one)), "Bench <no-reply@bench.example>") if one else b""
    return int(rows), int(people), int(sent), message


async def _bare_loop(message: bytes, n: int, connections: int) -> None:
    """The baseline: `connections` aiosmtplib connections, opened once, sending `n` prebuilt messages between them."""
    left = iter(range(n))

    async def lane() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=SINK_PORT, start_tls=False, timeout=30)
        await smtp.connect()
        for i in left:
            await smtp.sendmail("no-reply@bench.example", [f"p{i}@bench.example"], message)
        await smtp.quit()

    await asyncio.gather(*(lane() for _ in range(connections)))


def baseline(message: bytes, n: int, connections: int) -> float:
    """Messages a second of the bare loop, from its start to the sink's last acceptance."""
    with Sink("sink-baseline") as sink:
        started = time.time()
        asyncio.run(_bare_loop(message, n, connections))
        status = sink.wait_for(n, 60)
    return n / (status["last"] - started)


def run(server: Server, pg_env: dict[str, str], db_url: str, event_id: int, settings: Settings, quick: bool) -> dict:
    n = sizes(quick)
    connections = settings.smtp_connections * WORKERS  # the baseline gets as many connections as the workers have
    env = pg_env | {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(SINK_PORT),
                    "MAIL_FROM": "Bench <no-reply@bench.example>"}  # fmt: skip
    with Sink("sink-worker") as sink:
        workers = []
        try:
            for k in range(WORKERS):
                worker = mail_worker(env)
                worker.name = f"worker-reminders-{k + 1}"
                workers.append(worker.start(ready_path=None))
            time.sleep(3)  # the workers are up, their first passes found nothing due
            with (
                contextlib.ExitStack() as samplers,
                wrk_until_stopped(f"{server.url}/events/{SLUG}", "paced.lua", 4, 2) as probe,
            ):
                memory = [samplers.enter_context(RssSampler(w)) for w in workers]
                due = asyncio.run(_make_due(db_url, event_id))
                status = sink.wait_for(n, 900)
        finally:
            for worker in workers:
                worker.stop()
    rows, people, sent, message = asyncio.run(_outbox(db_url, event_id))
    seconds = status["last"] - due
    rate = status["count"] / seconds if seconds > 0 else 0.0
    base = baseline(message, n, connections)
    page = probe.result
    rss_mb = max(m.peak for m in memory) / 1e6  # each worker's own peak: the target is a worker's memory
    exact = status["count"] == n and status["unique"] == n and rows == n and people == n and sent == n
    ok = rate / base >= 0.5 and page.p99_ms < 50 and page.errors == 0 and rss_mb < 300 and exact
    print(f"  reminders: {status['count']:.0f} delivered ({status['unique']:.0f} people) in {seconds:.1f} s from due"
          f" = {rate:.0f}/s by {WORKERS} worker(s); bare loop {base:.0f}/s over {connections} connections;"
          f" /events p99 {page.p99_ms:.1f} ms ({page.errors} errors); worker RSS {rss_mb:.0f} MB at most;"
          f" outbox {rows} rows, {sent} sent")  # fmt: skip
    return result(
        "reminders", rate, "reminders/s, due → last accepted", base,
        ">= 0.5 x bare aiosmtplib loop, /events p99 < 50 ms, worker RSS < 300 MB, each once", ok,
        delivered=status["count"], recipients=status["unique"], seconds=round(seconds, 1), page_p99_ms=page.p99_ms,
        page_errors=page.errors, page_requests=page.requests, worker_rss_mb=round(rss_mb, 1), outbox_rows=rows,
        smtp_connections=connections, message_bytes=len(message), workers=WORKERS,
    )  # fmt: skip


async def add_data(db_url: str, event_id: int, quick: bool) -> None:
    """The event's approved registrants, registered a day ago (before any reminder's moment)."""
    await fixtures.add_registrants(db_url, event_id, "remind", sizes(quick))


def event_overrides() -> dict[str, object]:
    """The scenario's event: one reminder, nothing due until the scenario moves its start (`_make_due`)."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)
    return {"reminders": str(OFFSET), "followup_after_minutes": None, "starts_at": start,
            "ends_at": start + dt.timedelta(hours=2)}  # fmt: skip
