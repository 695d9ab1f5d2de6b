"""Moving the platform's clock in a test: `webinar.clock.now` and every module that imported `now` from it."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable

import pytest

from webinar import clock

PACKAGES = ("webinar", "admin", "reports")


class MovedClock:
    """`clock.to(when)` makes every reader of `webinar.clock.now` see `when`; `clock.forward(delta)` moves it on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.readers: list[Callable[[], dt.datetime]] = [clock.now]
        self.at: dt.datetime | None = None

    def to(self, when: dt.datetime) -> dt.datetime:
        self.at = when

        def fake() -> dt.datetime:
            return when

        for name, module in list(sys.modules.items()):
            reader = getattr(module, "now", None)
            if name.split(".")[0] in PACKAGES and any(reader is known for known in self.readers):
                self.monkeypatch.setattr(module, "now", fake)
        self.monkeypatch.setattr(clock, "now", fake)
        self.readers.append(fake)
        return when

    def forward(self, delta: dt.timedelta) -> dt.datetime:
        return self.to((self.at or clock.now()) + delta)
