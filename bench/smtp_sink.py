"""A local SMTP sink for the reminders benchmark: accepts every message, counts them, and writes what it saw.

`python -m bench.smtp_sink PORT STATUS_FILE [TIMES_FILE]`: an aiosmtpd server on 127.0.0.1:PORT in its own process
(so its CPU is not the runner's); every 0.2 s, and when stopped, STATUS_FILE gets {"count", "unique", "first",
"last"} — messages accepted, distinct recipients, and the wall-clock times of the first and last acceptance. With
TIMES_FILE, each recipient's first acceptance too ("address<TAB>unix time" lines, written when stopped): the flow
scenario's time from registration to delivered confirmation.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP


class Sink:
    """Accepts everything; keeps only counts, the recipients and times."""

    def __init__(self) -> None:
        self.count = 0
        self.recipients: dict[str, float] = {}  # each recipient's first acceptance
        self.first = self.last = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        self.last = time.time()
        for rcpt in envelope.rcpt_tos:
            self.recipients.setdefault(rcpt, self.last)
        self.first = self.first or self.last
        return "250 OK"

    def status(self) -> dict[str, float]:
        return {"count": self.count, "unique": len(self.recipients), "first": self.first, "last": self.last}


def _write_times(path: Path, recipients: dict[str, float]) -> None:
    path.write_text("".join(f"{rcpt}\t{at:.3f}\n" for rcpt, at in recipients.items()))


async def main(port: int, status_file: Path, times_file: Path | None) -> None:
    sink = Sink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink, hostname="sink.bench"), "127.0.0.1", port)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    tmp = status_file.with_suffix(".tmp")
    while not stop.is_set():
        tmp.write_text(json.dumps(sink.status()))
        tmp.replace(status_file)
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except TimeoutError:
            pass
    server.close()
    if times_file is not None:
        await asyncio.to_thread(_write_times, times_file, sink.recipients)
    tmp.write_text(json.dumps(sink.status()))
    tmp.replace(status_file)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None))
