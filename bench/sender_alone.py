"""The mail sender alone on N reminders, against a bare aiosmtplib loop over the same sink, in one process.

`python -m bench.sender_alone` (N=2000 by default; TEST_DATABASE_URL's server gets a scratch database
`webinar_sender_alone`): the reminders scenario's event and registrants, the real reminders pass, then the sender's
job pass after pass (the worker's code, at the runner's priority, without the page load) delivering to
`bench/smtp_sink.py`, then the bare loop sending the bytes of one of those reminders as often over the same sink with
the same number of connections. Prints both rates and their ratio: what to compare two versions of the sender with
on a busy machine, where the `reminders` scenario's lowest-priority worker gets what the others leave
(docs/performance.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import aiosmtplib

from bench import fixtures
from bench import reminders as scenario
from bench.harness import LOG_DIR
from webinar.settings import Settings, load_settings

PORT = 8126 + int(os.environ.get("BENCH_PORT_OFFSET", "0"))  # moved as the bench's ports are


async def _bare(message: bytes, n: int, connections: int) -> None:
    left = iter(range(n))

    async def lane() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=PORT, start_tls=False, timeout=30)
        await smtp.connect()
        for i in left:
            await smtp.sendmail("no-reply@bench.example", [f"b{i}@bench.example"], message)
        await smtp.quit()

    await asyncio.gather(*(lane() for _ in range(connections)))


async def _sender(settings: Settings) -> float:
    """Queue the reminders with the real pass and deliver them with the sender's job; the seconds it took."""
    from webinar.app import create_app
    from webinar.attendance.queries import attended
    from webinar.jobs import Context
    from webinar.mail import sender
    from webinar.registration import reminders
    from webinar.registration.notifications import compose_queued
    from webinar.state import app_state

    app = create_app(settings.with_overrides(run_background=False))
    db = app_state(app).db
    await db.connect()
    try:
        ctx = Context.of(app)
        await asyncio.sleep(2.5)  # the event's start was moved so that its reminder is due: let its moment come
        await reminders.queue_due(ctx, attended)
        job = sender.job(compose_queued)
        started = time.time()
        while await job.run(ctx):
            pass
        return time.time() - started
    finally:
        await db.disconnect()


async def _prepare(n: int) -> tuple[str, Settings, int]:
    """The scratch database, migrated, with the scenario's event and `n` approved registrants, its reminder due."""
    base = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    url = await fixtures.recreate_database(base, "webinar_sender_alone")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SECRET_KEY"))} | {
        "DATABASE_URL": url, "SECRET_KEY": "s" * 48, "BASE_URL": "http://127.0.0.1:8101", "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(PORT), "MAIL_FROM": "Bench <no-reply@bench.example>",
        "WEBINAR_BACKGROUND": "false",
    }  # fmt: skip
    fixtures.migrate(env)
    settings = load_settings(env)
    events = await fixtures.create_events(settings, {scenario.SLUG: scenario.event_overrides()}, False)
    event_id = events.ids[scenario.SLUG]
    await fixtures.add_registrants(url, event_id, "remind", n)
    await scenario._make_due(url, event_id)
    return url, settings, event_id


def main(n: int) -> dict[str, float]:
    url, settings, event_id = asyncio.run(_prepare(n))
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    status = LOG_DIR / "sink-sender-alone.json"
    status.unlink(missing_ok=True)
    sink = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(PORT), str(status)])
    try:
        while not status.exists():
            time.sleep(0.05)
        seconds = asyncio.run(_sender(settings))
        _rows, _people, sent, message = asyncio.run(scenario._outbox(url, event_id))
        started = time.time()
        asyncio.run(_bare(message, n, settings.smtp_connections))
        bare_seconds = time.time() - started
    finally:
        sink.terminate()
        sink.wait()
    ours, theirs = n / seconds, n / bare_seconds
    return {
        "sent": sent,
        "sender_per_s": round(ours, 1),
        "bare_per_s": round(theirs, 1),
        "ratio": round(ours / theirs, 3),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(os.environ.get("N", "2000")))))
