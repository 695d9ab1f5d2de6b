"""Presence checks on the channel: each one shown when it falls due, its answer recorded (docs/attendance.md)."""

from __future__ import annotations

import json

from webinar import clock
from webinar.attendance import checks
from webinar.db import DB
from webinar.presence.services import Viewer


class Prompts:
    """The presence checks of one viewer on one channel: the moments are the server's secret; each check is sent to
    the page only when it falls due (or when the page connects while it waits for its answer)."""

    def __init__(self, db: DB, viewer: Viewer, moments: list[checks.Moment]) -> None:
        self.db, self.viewer, self.moments = db, viewer, moments
        self.sent: set[int] = set()  # the numbers of the checks this channel has sent

    @classmethod
    def of(cls, db: DB, secret: str, answer_seconds: int, viewer: Viewer) -> Prompts | None:
        """The viewer's prompts; None when there are none (no checks, or the replay, which has none)."""
        if viewer.event is None or viewer.kind != "live":
            return None
        moments = checks.schedule(secret, viewer.event, viewer.registration_id, answer_seconds)
        return cls(db, viewer, moments) if moments else None

    def seconds_to_next(self) -> float | None:
        """How long until a check is due to be sent (0: now); None when none is left."""
        at = clock.now()
        current = checks.open_at(self.moments, at)
        if current is not None and current.number not in self.sent:
            return 0.0
        upcoming = checks.next_due(self.moments, at)
        return None if upcoming is None else (upcoming.due_at - at).total_seconds()

    async def due(self) -> str | None:
        """The message that shows the check waiting now, the first time this channel sees it; else None."""
        at = clock.now()
        moment = checks.open_at(self.moments, at)
        if moment is None or moment.number in self.sent:
            return None
        self.sent.add(moment.number)
        check_id, answered = await checks.show(self.db, self.viewer.event_id, self.viewer.registration_id, moment)
        if answered:  # on another of the person's devices
            return None
        seconds = max(1, round((moment.answer_by - at).total_seconds()))
        return json.dumps({"type": "check", "check": check_id, "answer_by": moment.answer_by.isoformat(),
                           "seconds": seconds})  # fmt: skip

    async def answer(self, check_id: int) -> str:
        """Record the answer; the message telling the page how it was taken (answered, late or refused)."""
        result = await checks.answer(self.db, self.viewer.registration_id, check_id)
        return json.dumps({"type": "answer", "check": check_id, "result": result.value})
