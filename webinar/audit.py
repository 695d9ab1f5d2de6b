"""The audit log: who did what, to which event, when and from where."""

from __future__ import annotations

import json
from typing import Any

from databases.core import Connection

from webinar.clock import now
from webinar.tables import audit_log


async def record(
    conn: Connection,
    action: str,
    *,
    actor: str,
    actor_staff_id: int | None = None,
    organisation_id: int | None = None,
    event_id: int | None = None,
    registration_id: int | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the audit log (inside the caller's transaction)."""
    await conn.execute(
        audit_log.insert().values(
            at=now(),
            actor=actor[:254],
            actor_staff_id=actor_staff_id,
            organisation_id=organisation_id,
            event_id=event_id,
            registration_id=registration_id,
            action=action,
            details_json=json.dumps(details or {}, ensure_ascii=False, default=str),
            ip=ip,
        )
    )
