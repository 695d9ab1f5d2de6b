"""Stopping in order: work that must end once started, background tasks given a bounded time, a hard deadline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

log = logging.getLogger("webinar.stopping")

T = TypeVar("T")

# Exit codes of a stop: everything finished in order; something was abandoned (a second signal, a hard deadline).
IN_ORDER, ABANDONED = 0, 1


async def to_the_end(work: Awaitable[T], within: float | None = None) -> T:
    """Await `work` to its end (at most `within` seconds) even when a stop cancels the caller meanwhile, then pass the
    stop on. For what must not be cut in the middle: a transaction's BEGIN or COMMIT (cut there, a connection is never
    given back and the pool waits for it forever at shutdown), a lease's release, an e-mail between its sending and
    the record that it was sent."""
    task = asyncio.ensure_future(work if within is None else asyncio.wait_for(work, within))
    stopped = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            stopped = True
    if stopped:
        raise asyncio.CancelledError
    return task.result()


async def finish(task: asyncio.Future[Any], within: float, name: str) -> bool:
    """Stop a background task in order: cancel it (each job stops at its next await, finishing what may not be cut
    and giving back what it holds) and wait at most `within` seconds for it; False, logged, when it did not end."""
    task.cancel()
    done, _pending = await asyncio.wait([task], timeout=within)
    if not done:
        log.error("stop: %s did not end within %.1f s; abandoned", name, within)
        return False
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("stop: %s ended with an error", name, exc_info=error)
    return True


async def together(*work: Awaitable[T]) -> list[T]:
    """Run every awaitable at once and return their results, as `asyncio.gather` does, but a stop waits for every one
    of them to stop: `gather` lets the stop go on as soon as the first one has stopped, and the pools were then closed
    under the others while they were still giving back what they held. The first error is raised after all ended."""
    results = await asyncio.gather(*work, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


async def run_until(work: Awaitable[object], stop: asyncio.Event, within: float, name: str) -> bool:
    """Run `work` until it ends or `stop` is set, then stop it in order (`finish`); False when it did not end."""
    task = asyncio.ensure_future(work)
    waiting = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the caller itself is stopped: the work is stopped too, first
        await finish(task, within, name)
        raise
    finally:
        waiting.cancel()
    return await finish(task, within, name)


class Deadline:
    """The moment a stop must be over by, kept by a timer thread: when it passes (or `now()` is called, for a second
    signal), what is still running is logged and the process exits at once, whatever its event loop is doing."""

    def __init__(self, describe: Callable[[], str], exit: Callable[[int], object] = os._exit) -> None:
        self.describe, self._exit = describe, exit
        self._timer: threading.Timer | None = None

    @property
    def started(self) -> bool:
        return self._timer is not None

    def start(self, seconds: float) -> None:
        """Allow the stop `seconds`, from now (a second call changes nothing)."""
        if self._timer is None:
            self._timer = threading.Timer(seconds, self.now, args=(f"not stopped within {seconds:g} s",))
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def now(self, why: str) -> None:
        """Exit at once, logging what is abandoned."""
        try:
            log.error("stop: %s; exiting now, abandoning %s", why, self.describe())
            logging.shutdown()  # flush every handler: os._exit does not
        finally:
            self._exit(ABANDONED)


# How long the orderly part of a stop may take once the grace for requests is over: the background jobs (an e-mail
# being sent is finished, the others given back), the group writers' last groups, the database pools.
JOBS_SECONDS = 5.0
WRITERS_SECONDS = 1.0
POOLS_SECONDS = 2.0
CLEANUP_SECONDS = JOBS_SECONDS + WRITERS_SECONDS + POOLS_SECONDS + 1.0

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event, deadline: Deadline, within: float) -> Iterator[None]:
    """In a plain asyncio program (`webinar worker`), while the block runs: the first SIGTERM or SIGINT sets `stop`
    and gives the stop `within` seconds; a second one exits at once."""
    loop = asyncio.get_running_loop()

    def received(sig: signal.Signals) -> None:
        if stop.is_set():
            deadline.now(f"a second {sig.name}")
            return
        log.info("stop: %s received; stopping within %g s (a second one exits at once)", sig.name, within)
        deadline.start(within)
        stop.set()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, received, sig)
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
