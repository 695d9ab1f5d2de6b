"""Who attended an event, for the follow-up (SPEC §12): SPEC §13's rule, as SQL over a registration id."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webinar.attendance import queries as attendance_queries
from webinar.events.queries import Event


def attended(event: Event, registration_id: Any) -> sa.ColumnElement[bool]:
    """Whether the registration `registration_id` (a column or a value) attended `event`, by SPEC §13's one rule
    (webinar/attendance/queries.py): minutes watched live, the union of its live sessions clipped to the start and
    end, reach the event's threshold (`attendance_minutes`; with none, any time watched live), and every presence
    check was answered in time. Replay sessions never count. Every caller asks this function or that module."""
    who = registration_id if isinstance(registration_id, sa.ColumnElement) else sa.literal(registration_id)
    return who.in_(attendance_queries.qualifying(event))
