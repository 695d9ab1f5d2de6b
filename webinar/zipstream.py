"""A write-only file for `zipfile` whose bytes are taken piece by piece, so that a zip streams as it is written."""

from __future__ import annotations


class ZipSink:
    """No `tell`/`seek`: zipfile then streams (each entry's sizes in a data descriptor after it), and the caller takes
    what was written so far after each entry or chunk."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        """What was written since the last take."""
        data = b"".join(self.parts)
        self.parts.clear()
        return data
