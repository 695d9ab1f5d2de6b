"""The presence channel's limits: frame size, messages per connection, channels per attendee (docs/security.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# The largest WebSocket message uvicorn reads (`ws_max_size`): a bigger frame closes the connection with 1009 before
# it is buffered. The channel's own limit is 1 KiB of text (`channel.MAX_MESSAGE`); 4 KiB leaves room for UTF-8.
WS_MAX_BYTES = 4096

# Messages one connection may send: a burst of BURST, then PER_HEARTBEAT per heartbeat interval (a page sends one
# heartbeat per interval, and an answer now and then). More closes the channel with 1008: pipelined heartbeats
# would otherwise cost one UPDATE each.
BURST = 10
PER_HEARTBEAT = 4

# Channels one attendee (a registration, whatever the number of browsers) may hold open on one worker at once.
CHANNELS_PER_ATTENDEE = 5


class MessageRate:
    """A token bucket for one connection, on the event loop's clock: `allow(at)` is False once it is exceeded."""

    __slots__ = ("at", "every", "tokens")

    def __init__(self, heartbeat_seconds: float, at: float) -> None:
        self.every = max(heartbeat_seconds, 0.001) / PER_HEARTBEAT  # seconds per token
        self.tokens, self.at = float(BURST), at

    def allow(self, at: float) -> bool:
        self.tokens = min(float(BURST), self.tokens + (at - self.at) / self.every)
        self.at = at
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class ChannelCap:
    """How many channels each attendee holds open on this worker; `hold` admits one more, or not."""

    def __init__(self, most: int = CHANNELS_PER_ATTENDEE) -> None:
        self.most = most
        self.open: dict[int, int] = {}

    @contextmanager
    def hold(self, registration_id: int) -> Iterator[bool]:
        """For the `with` block: True (and counted) if the attendee is under the cap, else False."""
        if self.open.get(registration_id, 0) >= self.most:
            yield False
            return
        self.open[registration_id] = self.open.get(registration_id, 0) + 1
        try:
            yield True
        finally:
            left = self.open.pop(registration_id) - 1
            if left:
                self.open[registration_id] = left
