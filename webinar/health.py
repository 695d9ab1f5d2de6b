"""Health checks for load balancers: the process is up; the database answers and is migrated."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from webinar import migrate
from webinar.state import app_state


async def healthz(request: Request) -> Response:
    """The process is up and serving (no database call)."""
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    """The database is reachable and at the newest migration."""
    try:
        current = await migrate.current_revision_on(app_state(request).db)
    except Exception as exc:  # any failure means "not ready"; the reason is for the operator
        return JSONResponse({"ready": False, "reason": type(exc).__name__}, status_code=503)
    head = migrate.head_revision()
    ready = current == head
    return JSONResponse({"ready": ready, "revision": current, "head": head}, status_code=200 if ready else 503)
