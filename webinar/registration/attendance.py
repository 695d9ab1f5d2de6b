"""Who attended an event (SPEC §12's follow-up, §13's threshold): the one rule, as SQL over a registration id."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webinar.events.queries import Event
from webinar.tables import viewing_sessions


def attended(event: Event, registration_id: Any) -> sa.ColumnElement[bool]:
    """Whether the registration `registration_id` (a column or a value) attended `event`: it had a viewing session.

    SPEC §13 (issue 19) slots in here and nowhere else: with the event's `attendance_minutes` set, this becomes
    "minutes watched live (the union of the sessions clipped to the start and end) reach the threshold", and replay
    sessions (kind `replay`) stop counting. Every caller — the follow-up today, the attendance report and the
    certificates later — asks this function."""
    return sa.exists().where(
        viewing_sessions.c.event_id == event.id, viewing_sessions.c.registration_id == registration_id
    )
