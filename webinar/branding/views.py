"""Serving an organisation's logo and accent stylesheet from our own origin, each at an address that never changes
content (a hash or the colour in it), so browsers and proxies keep them for a year."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webinar.branding import colours, queries
from webinar.state import app_state

FOREVER = "public, max-age=31536000, immutable"
# An image answered on its own: nothing in it may run, and it is never a document.
IMAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


async def logo(request: Request) -> Response:
    """`GET /brand/{organisation_id}/logo-{digest}.{ext}`: the logo whose hash the name carries; 404 for another."""
    organisation_id = request.path_params["organisation_id"]
    async with app_state(request).db.connection() as conn:
        stored = await queries.logo(conn, organisation_id)
    if stored is None or stored.name != request.path_params["name"]:
        raise HTTPException(404)
    headers = {"Cache-Control": FOREVER, "Content-Security-Policy": IMAGE_CSP, "Content-Disposition": "inline"}
    return Response(stored.data, media_type=stored.content_type, headers=headers)


def stylesheet(colour: str) -> str:
    """The accent stylesheet of a colour: the site's custom properties (static/css/site.css) set to it."""
    return f":root {{ --accent: {colour}; --accent-ink: #fff; }}\n"


async def accent(request: Request) -> Response:
    """`GET /brand/accent-{rrggbb}.css`: the stylesheet of that colour (made from the address, no database read)."""
    colour = colours.normalised("#" + request.path_params["rrggbb"])
    if colour is None or colour[1:] != request.path_params["rrggbb"]:
        raise HTTPException(404)
    return Response(stylesheet(colour), media_type="text/css", headers={"Cache-Control": FOREVER})
