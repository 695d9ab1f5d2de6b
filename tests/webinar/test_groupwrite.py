"""GroupWriter: what arrives while a group is written goes as the next group, clashing keys wait, a failed group's
items are written one by one by their own callers. (The registrations it writes: test_registration_concurrency.py.)"""

from __future__ import annotations

import asyncio

import pytest

from webinar.groupwrite import GroupWriter


class Recorder:
    """A write function that records each group, takes a moment like a round trip, and refuses any group holding
    a "bad" item (as a statement with one bad row fails whole)."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []

    async def write(self, items: list[str]) -> list[str]:
        self.groups.append(list(items))
        await asyncio.sleep(0.01)
        if "bad" in items:
            raise ValueError("a row the database refuses")
        return [item.upper() for item in items]


def _key(item: str) -> list[str]:
    return [item.split(":")[0]]  # "ip:name": two items of one ip clash


async def test_the_first_item_goes_at_once_and_those_arriving_meanwhile_go_together() -> None:
    recorder = Recorder()
    writer = GroupWriter(recorder.write, _key)
    first = asyncio.create_task(writer.submit("a:1"))
    await asyncio.sleep(0)  # the first group is being written
    rest = [asyncio.create_task(writer.submit(f"{ip}:x")) for ip in "bcdef"]
    assert await first == "A:1"
    assert await asyncio.gather(*rest) == ["B:X", "C:X", "D:X", "E:X", "F:X"]
    assert recorder.groups == [["a:1"], ["b:x", "c:x", "d:x", "e:x", "f:x"]]
    assert writer.groups == 2


async def test_items_with_a_shared_key_never_share_a_group_and_keep_their_order() -> None:
    recorder = Recorder()
    writer = GroupWriter(recorder.write, _key)
    results = await asyncio.gather(*(writer.submit(item) for item in ["a:1", "a:2", "b:1", "a:3", "b:2"]))
    assert results == ["A:1", "A:2", "B:1", "A:3", "B:2"]
    assert recorder.groups == [["a:1", "b:1"], ["a:2", "b:2"], ["a:3"]]  # all submitted before the first write


async def test_a_group_holds_at_most_most_items() -> None:
    recorder = Recorder()
    writer = GroupWriter(recorder.write, _key, most=3)
    await asyncio.gather(*(writer.submit(f"{i}:x") for i in range(8)))
    assert [len(group) for group in recorder.groups] == [3, 3, 2]


async def test_a_failed_group_is_written_item_by_item_and_only_the_bad_item_fails() -> None:
    recorder = Recorder()
    writer = GroupWriter(recorder.write, _key)
    first = asyncio.create_task(writer.submit("a:1"))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(writer.submit(item)) for item in ["b:1", "bad", "c:1"]]
    assert await first == "A:1"
    assert await rest[0] == "B:1" and await rest[2] == "C:1"
    with pytest.raises(ValueError, match="refuses"):
        await rest[1]
    assert recorder.groups[1] == ["b:1", "bad", "c:1"]  # tried together, refused whole
    assert sorted(map(tuple, recorder.groups[2:])) == [("b:1",), ("bad",), ("c:1",)]  # then each on its own
    assert writer.groups == 1  # only the first group was written as a group


async def test_an_item_whose_request_was_cancelled_before_its_turn_is_not_written() -> None:
    recorder = Recorder()
    writer = GroupWriter(recorder.write, _key)
    first = asyncio.create_task(writer.submit("a:1"))
    await asyncio.sleep(0)
    gone, kept = asyncio.create_task(writer.submit("b:1")), asyncio.create_task(writer.submit("c:1"))
    await asyncio.sleep(0)
    gone.cancel()
    assert await first == "A:1" and await kept == "C:1"
    assert recorder.groups == [["a:1"], ["c:1"]]


async def test_writing_starts_again_after_a_quiet_moment() -> None:
    recorder = Recorder()
    writer = GroupWriter(recorder.write, _key)
    assert await writer.submit("a:1") == "A:1"
    await asyncio.sleep(0.02)
    assert await writer.submit("a:2") == "A:2"
    assert recorder.groups == [["a:1"], ["a:2"]]


class Unreachable(ConnectionError):
    """What a write raises when the database cannot be reached: nothing to do with any one item."""


async def test_a_failure_of_the_whole_group_reaches_every_request_without_writing_alone() -> None:
    calls: list[list[str]] = []

    async def write(items: list[str]) -> list[str]:
        calls.append(list(items))
        await asyncio.sleep(0.01)
        raise Unreachable("connection refused")

    writer = GroupWriter(write, _key, whole_group=(Unreachable,))
    outcomes = await asyncio.gather(*(writer.submit(f"{ip}:x") for ip in "abc"), return_exceptions=True)
    assert [type(o) for o in outcomes] == [Unreachable] * 3
    assert calls == [["a:x", "b:x", "c:x"]]  # one try for the group, none alone
