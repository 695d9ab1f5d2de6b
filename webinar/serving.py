"""`webinar serve`: uvicorn, a stop that stops (docs/deploy.md "Stopping"), workers that die with their parent."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from webinar.presence.limits import WS_MAX_BYTES
from webinar.stopping import ABANDONED, CLEANUP_SECONDS, IN_ORDER, STOP_SIGNALS, Deadline

log = logging.getLogger("webinar.serving")

# A worker whose parent died (even by SIGKILL) stops at once, as a second signal would make it, after this long for
# the requests in flight: the next start must not compete with it for the port and the database.
ORPHAN_GRACE_SECONDS = 1.0
ORPHAN_DEADLINE_SECONDS = 3.5
WATCHDOG_SECONDS = 0.5  # how often a worker looks for its parent, where the kernel cannot tell it (not Linux)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# A worker is sent a stop twice at once: by its parent, and by whoever signalled the whole group (Ctrl+C in a terminal,
# systemd's default KillMode=control-group). Within this long, the second is the same stop, not a "stop now".
SAME_STOP_SECONDS = 1.0


def configure_logging() -> None:
    """Our loggers at INFO on standard error, in every process (each worker configures its own)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("databases").setLevel(logging.WARNING)  # it logs every connect and disconnect
    # Alembic logs its plugins and its engine on every start; `migrate` says in one line what it did.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def config(host: str, port: int, workers: int, grace: float) -> uvicorn.Config:
    """uvicorn's configuration for the app: the grace is how long a stop waits for requests and WebSockets."""
    return uvicorn.Config(
        "webinar.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,  # X-Forwarded-For is honoured only from TRUSTED_PROXIES, by the app itself
        timeout_graceful_shutdown=grace,  # type: ignore[arg-type]  # a float works, the annotation says int
        ws_max_size=WS_MAX_BYTES,  # a bigger WebSocket frame is refused (1009) before it is buffered
        # No permessage-deflate: the presence channel's messages are a few dozen bytes, and each connection's zlib
        # streams cost about 40 kB of memory (10,000 viewers: 400 MB) and compressing every ack a little CPU.
        ws_per_message_deflate=False,
        log_level="info",
    )


def serve(host: str, port: int, workers: int, grace: float) -> int:
    """Serve until stopped; the exit code (0 when the stop went in order)."""
    settings = config(host, port, workers, grace)
    if workers == 1:
        return Server(settings, grace).serve_here()
    return Supervisor(settings, grace).run()


class Server(uvicorn.Server):
    """uvicorn's server with our stop: the first SIGTERM or SIGINT stops accepting, gives the requests in flight and
    the open WebSockets the grace, then the app's lifespan stops the jobs and closes the pools, and the process exits
    0; a second signal, or a stop still running `CLEANUP_SECONDS` after the grace, exits at once (1), logging what
    it abandoned. (uvicorn's own handler waits for the lifespan however long it takes, then raises the signal again,
    so that a stop in order exits -15.)"""

    def __init__(self, config: uvicorn.Config, grace: float, parent: int | None = None) -> None:
        super().__init__(config)
        self.grace, self.parent = grace, parent
        self.deadline = Deadline(self.in_flight)
        self.stopping_since = 0.0

    def in_flight(self) -> str:
        """What a stop would abandon now."""
        state = self.server_state
        return f"{len(state.tasks)} request(s) in flight, {len(state.connections)} connection(s) open (WebSockets too)"

    def serve_here(self) -> int:
        self.run()
        if not self.started:
            return STARTUP_FAILURE
        log.info("stop: done in order")
        return IN_ORDER  # the deadline keeps running: an exit held up by a thread left behind is cut short too

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        name = signal.Signals(sig).name
        if self.should_exit:
            if time.monotonic() - self.stopping_since > SAME_STOP_SECONDS:
                self.deadline.now(f"a second {name}")
            return
        self.stopping_since = time.monotonic()
        orphaned = self.parent is not None and os.getppid() != self.parent
        grace = min(self.grace, ORPHAN_GRACE_SECONDS) if orphaned else self.grace
        self.config.timeout_graceful_shutdown = grace  # type: ignore[assignment]
        log.info(
            "stop: %s%s; no new connections, %s to finish within %g s (a second signal exits at once)",
            name, " (the parent process is gone)" if orphaned else "", self.in_flight(), grace,
        )  # fmt: skip
        self.deadline.start(ORPHAN_DEADLINE_SECONDS if orphaned else grace + CLEANUP_SECONDS)
        self.should_exit = True


def _child(config: uvicorn.Config, grace: float, parent: int, sockets: list[socket.socket]) -> None:
    """A worker process: it dies with its parent, then serves on the parent's socket."""
    die_with(parent)
    configure_logging()
    config.configure_logging()
    Server(config, grace, parent).run(sockets)


def die_with(parent: int) -> None:
    """Stop when `parent` dies, however it dies: the kernel sends us SIGTERM then (Linux: PR_SET_PDEATHSIG), and a
    watchdog thread looks for the parent every half second, where the kernel cannot, or in case it did not."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    threading.Thread(target=_watch, args=(parent,), name="parent-watchdog", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:  # checked after the prctl: a parent that died before it is seen here
        time.sleep(WATCHDOG_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


class Supervisor:
    """The parent of `--workers N`: it binds the socket, starts the workers (again, when one dies), and at a stop
    closes its socket, passes the signal on, waits for the workers for the grace and the cleanup, and kills those
    still running. A second signal is passed on too: each worker then exits at once."""

    def __init__(self, config: uvicorn.Config, grace: float) -> None:
        self.config, self.grace = config, grace
        self.signals: list[int] = []
        self.woken = threading.Event()
        self.workers: list[BaseProcess] = []

    def run(self) -> int:
        listening = self.config.bind_socket()
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._received)
        log.info("Started parent process [%d]", os.getpid())
        self.workers = [self._start(listening) for _ in range(self.config.workers)]
        try:
            failed = self._keep_running(listening)
        finally:
            listening.close()  # no new connections: those waiting in the backlog are refused, not left hanging
        code = ABANDONED if failed else self._stop()
        log.info("Stopping parent process [%d]", os.getpid())
        return STARTUP_FAILURE if failed else code

    def _received(self, sig: int, frame: FrameType | None) -> None:
        self.signals.append(sig)
        self.woken.set()

    def _start(self, listening: socket.socket) -> BaseProcess:
        target = functools.partial(_child, self.config, self.grace, os.getpid())
        worker = multiprocessing.get_context("spawn").Process(target=target, kwargs={"sockets": [listening]})
        worker.start()
        return worker

    def _keep_running(self, listening: socket.socket) -> bool:
        """Until a signal: start a worker again when one dies; True when one failed at its start (every next one
        would fail the same way)."""
        while not self.signals:
            self.woken.wait(0.5)
            for n, worker in enumerate(self.workers):
                if worker.exitcode is None or self.signals:
                    continue
                if worker.exitcode == STARTUP_FAILURE:
                    log.error("worker [%s] failed to start; stopping", worker.pid)
                    self._signal_all(signal.SIGTERM)
                    self._wait(CLEANUP_SECONDS)
                    return True
                log.error("worker [%s] died (exit code %s); starting another", worker.pid, worker.exitcode)
                self.workers[n] = self._start(listening)
        return False

    def _stop(self) -> int:
        seen = len(self.signals)
        self._signal_all(self.signals[0])
        self._wait(self.grace + CLEANUP_SECONDS + 1.0, until_signals=seen)
        if len(self.signals) > seen:  # a second signal: each worker exits at once
            log.error("stop: a second %s; the workers exit at once", signal.Signals(self.signals[-1]).name)
            self._signal_all(self.signals[-1])
            self._wait(2.0)
        left = [worker for worker in self.workers if worker.is_alive()]
        for worker in left:
            log.error("stop: worker [%s] still running; killed", worker.pid)
            worker.kill()
        for worker in self.workers:
            worker.join(5)
        return IN_ORDER if not left and all(worker.exitcode == 0 for worker in self.workers) else ABANDONED

    def _signal_all(self, sig: int) -> None:
        for worker in self.workers:
            if worker.is_alive() and worker.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, sig)

    def _wait(self, seconds: float, until_signals: int | None = None) -> None:
        deadline = time.monotonic() + seconds
        while any(worker.is_alive() for worker in self.workers) and time.monotonic() < deadline:
            if until_signals is not None and len(self.signals) > until_signals:
                return
            self.woken.clear()
            self.woken.wait(0.1)
