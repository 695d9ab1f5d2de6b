"""The registration a browser makes (issue 26): the event page as a new visitor, the form posted, the "registered"
page, one fresh visitor per flow, on the default deployment (`webinar serve --workers 2`, the mail sender and the
sweeper inside) and on the split one (`--workers 2` plus a `webinar worker`), each delivering its confirmations to a
local SMTP sink that notes when each address got its e-mail."""

from __future__ import annotations

import asyncio
import statistics
import time

import asyncpg

from bench.harness import Server, mail_worker, platform, wrk
from bench.reminders import SINK_PORT, Sink
from bench.scenarios import Scale, drop_queued_mail, outbox_mismatches, result

SLUGS = {"default": "bench-flow", "split": "bench-flow-split"}
CONNECTIONS = 16  # as the issue measured it: 16 browsers at once, one connection each
DELIVERY_WAIT = 300  # seconds to wait, after the rush, for the last confirmation


def _env(pg_env: dict[str, str], port: int, inside: bool) -> dict[str, str]:
    return pg_env | {
        "BASE_URL": f"http://127.0.0.1:{port}", "MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(SINK_PORT), "MAIL_FROM": "Bench <no-reply@bench.example>",
        "WEBINAR_BACKGROUND": "true" if inside else "false",
    }  # fmt: skip


async def _registrations(db_url: str, event_id: int, tag: str) -> tuple[list[tuple[str, float]], int]:
    """The run's registrations (address, unix time written), and how many of the event's registrations lack
    exactly one outbox message."""
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT email, created_at FROM registrations WHERE event_id = $1 AND email LIKE $2", event_id, f"%-{tag}@%"
        )
    finally:
        await conn.close()
    _, bad = await outbox_mismatches(db_url, event_id)
    return [(r["email"], r["created_at"].timestamp()) for r in rows], bad


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]


def one(deployment: str, pg_env: dict[str, str], port: int, db_url: str, event_id: int, scale: Scale) -> dict:
    """One deployment's flow: a short warm-up (its e-mails delivered before the timed run), the timed run, then every
    confirmation awaited at the sink."""
    slug = SLUGS[deployment]
    env = _env(pg_env, port, inside=deployment == "default")
    servers: list[Server] = []
    asyncio.run(drop_queued_mail(db_url))  # the earlier scenarios' e-mails are not this flow's to deliver
    with Sink(f"sink-flow-{deployment}", times=True) as sink:
        try:
            servers.append(platform(f"platform-flow-{deployment}", port, env, workers=2).start())
            if deployment == "split":
                servers.append(mail_worker(env).start(ready_path=None))
            url = servers[0].url
            wrk(url, "flow.lua", 3, CONNECTIONS, CONNECTIONS, [slug, "warm"])
            sink.wait_for(asyncio.run(outbox_mismatches(db_url, event_id))[0], 120)  # the warm-up's mail first
            before = sink.status()["count"]
            run = wrk(url, "flow.lua", scale.seconds, CONNECTIONS, CONNECTIONS, [slug, "run"])
            ended = time.time()
            written, bad = asyncio.run(_registrations(db_url, event_id, "run"))
            status = sink.wait_for(before + len(written), DELIVERY_WAIT)
            drained = status["last"] - ended if status["count"] >= before + len(written) else float("inf")
        finally:
            for server in reversed(servers):
                server.stop()
    times = sink.times()
    waits = [times[email] - at for email, at in written if email in times]
    undelivered = len(written) - len(waits)
    flow = run.raw.get("flow", {})
    flows = flow.get("flows", 0) / run.seconds if run.seconds else 0.0
    return {
        "deployment": deployment, "flows_per_s": round(flows, 1), "flow_p50_ms": flow.get("p50_ms", 0.0),
        "flow_p99_ms": flow.get("p99_ms", 0.0), "request_p99_ms": run.p99_ms, "errors": run.errors,
        "registrations": len(written), "outbox_mismatches": bad, "undelivered": undelivered,
        "mail_p50_s": round(_percentile(waits, 0.5), 2), "mail_p99_s": round(_percentile(waits, 0.99), 2),
        "mail_mean_s": round(statistics.fmean(waits), 2) if waits else 0.0,
        "drained_s_after_rush": round(drained, 1), "wrk_cpu_s": run.raw.get("wrk_cpu_s"),
        "seconds": round(run.seconds, 1),
    }  # fmt: skip


def run(pg_env: dict[str, str], port: int, db_url: str, ids: dict[str, int], rush: dict, scale: Scale) -> dict:
    """Both deployments, compared with the POST-only registration rush of the same run."""
    runs = {d: one(d, pg_env, port, db_url, ids[slug], scale) for d, slug in SLUGS.items()}
    for r in runs.values():
        print(f"  flow ({r['deployment']}): {r['flows_per_s']:.0f} flows/s, p50 {r['flow_p50_ms']:.0f} ms,"
              f" p99 {r['flow_p99_ms']:.0f} ms, errors {r['errors']}; {r['registrations']} rows,"
              f" {r['outbox_mismatches']} bad; mail p50 {r['mail_p50_s']} s p99 {r['mail_p99_s']} s,"
              f" {r['undelivered']} undelivered; wrk CPU {r['wrk_cpu_s']} s in {r['seconds']} s")  # fmt: skip
    base = rush["result"]
    default = runs["default"]

    def good(r: dict) -> bool:
        return (r["flows_per_s"] >= 0.5 * base and r["flow_p99_ms"] < 200 and r["errors"] == 0
                and r["outbox_mismatches"] == 0 and r["undelivered"] == 0 and r["registrations"] > 0
                and r["mail_p99_s"] < 60)  # fmt: skip

    return result(
        "flow", default["flows_per_s"], "page+POST+page flows/s, default", base,
        ">= 0.5 x the registration rush, flow p99 < 200 ms, mail p99 < 60 s, both deployments",
        all(good(r) for r in runs.values()), default=default, split=runs["split"],
    )  # fmt: skip
