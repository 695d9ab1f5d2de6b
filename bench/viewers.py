"""Simulated viewers on the presence WebSocket (one client process; the runner starts several).

`python -m bench.viewers SPEC.json OUT.json`: SPEC has url, origin, hold, heartbeat, start_at and viewers
([registration_id, cookie] pairs). Each viewer connects with its own session cookie and an Origin header,
waits for `open` (from `source`, a loopback address of its own: one address has about 28,000 ports for
connections to one server), sends a heartbeat every `heartbeat` seconds on a fixed schedule as the page's
setInterval does (the first at a random point of the first interval, like pages opened at different times), times
each heartbeat's ack (kept as [sent at, ms]), and closes at `start_at + hold`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import sys
import time

from websockets.asyncio.client import connect

CONNECTS_AT_ONCE = 100


async def viewer(spec: dict, reg_id: int, cookie: str, gate: asyncio.Semaphore, out: dict) -> None:
    record: dict = {"reg": reg_id, "ok": False, "acks": []}
    out["viewers"].append(record)
    end = spec["start_at"] + spec["hold"]
    try:
        async with gate:
            record["t_connect"] = time.time()
            ws = await connect(
                spec["url"], origin=spec["origin"], additional_headers={"Cookie": cookie},
                open_timeout=60, ping_interval=None, max_queue=4, local_addr=(spec.get("source", "127.0.0.1"), 0),
            )  # fmt: skip
            opened = json.loads(await asyncio.wait_for(ws.recv(), 60))
        record["t_open"] = time.time()
        record["session"], record["ok"] = opened.get("session"), opened.get("type") == "open"
        # On a fixed schedule, as the page's setInterval sends them: a slow ack does not move the next heartbeat
        # (waiting out a whole interval after each ack let one stall line thousands of viewers up to beat at once).
        due = time.time() + random.uniform(0, spec["heartbeat"])
        await asyncio.sleep(due - time.time())
        while time.time() + 0.5 < end:
            sent_at, sent = time.time(), time.perf_counter()
            await ws.send(json.dumps({"type": "heartbeat", "session": record["session"]}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if reply.get("type") == "ack":
                record["acks"].append((sent_at, (time.perf_counter() - sent) * 1000))
            else:
                record["unexpected"] = reply
            due += spec["heartbeat"]
            await asyncio.sleep(max(0.0, min(due, end) - time.time()))
        record["t_close"] = time.time()
        await ws.close()
        record["t_closed"] = time.time()
    except Exception as exc:  # a failed viewer is counted, not fatal
        record["error"] = f"{type(exc).__name__}: {exc}"[:200]


async def main(spec: dict) -> dict:
    out: dict = {"viewers": []}
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)
    await asyncio.gather(*(viewer(spec, reg, cookie, gate, out) for reg, cookie in spec["viewers"]))
    return out


if __name__ == "__main__":
    # The load generator must not pause on its own: a full collection of thousands of client connections stops
    # this process for a few hundred milliseconds, and every ack waiting meanwhile would be timed as the
    # server's. The process lives for one step of the run, so the cycles it leaves can wait for its exit.
    gc.disable()
    with open(sys.argv[1]) as fh:
        loaded = json.load(fh)
    result = asyncio.run(main(loaded))
    with open(sys.argv[2], "w") as fh:
        json.dump(result, fh)
