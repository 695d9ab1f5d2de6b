"""Group commit: the rows many requests want written, written by one statement per round trip to the database."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

_ALONE = object()  # what a waiter is told when its group could not be written: write your item on its own


class GroupWriter(Generic[Item, Result]):
    """Writes items in groups: the first item goes at once, and those that arrive while a group is being written go
    together as the next one, so a rush costs one statement per round trip instead of one per item, and a quiet
    moment costs no waiting.

    `write` takes a list of items and returns their results in the same order, in one atomic statement. Two items
    whose `keys` share a value (the same row to count or insert) never go in the same group: the later one waits for
    the next. A group that fails is not retried as a group: each of its items is written on its own by the request
    that submitted it, so one bad item fails only its own request; but a failure of one of the `whole_group` types
    (the database is unreachable) says nothing about the items, and every request of the group gets it at once.
    """

    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[list[Result]]],
        keys: Callable[[Item], Iterable[Hashable]],
        most: int = 100,
        whole_group: tuple[type[Exception], ...] = (),
    ) -> None:
        self._write, self._keys, self.most, self.whole_group = write, keys, most, whole_group
        self._queue: deque[tuple[Item, asyncio.Future[object]]] = deque()
        self._writing: asyncio.Task[None] | None = None
        self.groups = 0  # groups written so far (each one statement), for tests and the curious

    async def finish(self, within: float) -> bool:
        """Wait at most `within` seconds for the group being written (a stop: nothing committed is cut off, and no
        request is told its row was written before it was); False when it was still being written."""
        if self._writing is None or self._writing.done():
            return True
        done, _pending = await asyncio.wait([self._writing], timeout=within)
        return bool(done)

    async def submit(self, item: Item) -> Result:
        """Write `item` with whatever group it joins, and return its result."""
        waiter: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._queue.append((item, waiter))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._drain())
        result = await waiter
        if result is _ALONE:
            return (await self._write([item]))[0]
        return result  # type: ignore[return-value]

    def _take(self) -> list[tuple[Item, asyncio.Future[object]]]:
        """The next group, in order of arrival, without clashing keys; the rest stays queued in its order."""
        group: list[tuple[Item, asyncio.Future[object]]] = []
        later: list[tuple[Item, asyncio.Future[object]]] = []
        seen: set[Hashable] = set()
        while self._queue and len(group) < self.most:
            item, waiter = self._queue.popleft()
            if waiter.done():  # its request was cancelled before its turn: nothing to write
                continue
            keys = set(self._keys(item))
            if keys & seen:
                later.append((item, waiter))
                continue
            seen |= keys
            group.append((item, waiter))
        self._queue.extendleft(reversed(later))
        return group

    async def _drain(self) -> None:
        group: list[tuple[Item, asyncio.Future[object]]] = []
        try:
            while self._queue:
                group = self._take()
                if not group:
                    continue
                try:
                    results: list[object] = list(await self._write([item for item, _ in group]))
                    self.groups += 1
                except self.whole_group as exc:
                    for _item, waiter in group:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    group = []
                    continue
                except Exception:
                    log.warning("a group of %d could not be written together; each is written alone", len(group))
                    results = [_ALONE] * len(group)
                for (_item, waiter), result in zip(group, results, strict=True):
                    if not waiter.done():
                        waiter.set_result(result)
                group = []
        finally:  # cancelled (shutting down) or broken: nobody may be left waiting for this task
            for _item, waiter in [*group, *self._queue]:
                if not waiter.done():
                    waiter.set_result(_ALONE)
            self._queue.clear()
