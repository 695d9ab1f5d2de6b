"""The public home page: upcoming listed events; and the site's icon."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from webinar.clock import now
from webinar.events import queries
from webinar.settings import PROJECT_ROOT
from webinar.state import app_state
from webinar.web.language import choose_language

FAVICON = PROJECT_ROOT / "static" / "favicon.ico"  # 16, 32 and 48 px: a white "play" on the site's accent blue


async def home(request: Request) -> Response:
    """Upcoming listed events."""
    choose_language(request)
    async with app_state(request).db.connection() as conn:
        upcoming = await queries.upcoming_listed(conn, now())
    return app_state(request).templates.TemplateResponse(request, "webinar/home.html", {"events": upcoming})


async def favicon(request: Request) -> Response:
    """`GET /favicon.ico`: browsers ask for it on every site, whatever the page links (no 404 in every log)."""
    return FileResponse(FAVICON, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=604800"})
