"""An organisation's branding page: its accent colour and logo, set by an operator or the organisation's organisers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.branding_forms import colour_form, logo_form
from admin.pages import actor, render, staff_organisation
from webinar.branding import colours, logo, queries, services
from webinar.branding.logo import LogoRefused
from webinar.events.queries import Organisation
from webinar.state import app_state
from webinar.web.forms import read_form, text


async def _page(
    request: Request, org: Organisation, errors: dict[str, str] | None = None, typed: str | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    async with app_state(request).db.connection() as conn:
        brand = await queries.of_organisation(conn, org.id)
    colour = brand.accent_colour if brand and brand.accent_colour else ""
    context = {
        "organisation": org, "branding": brand, "errors": errors or {},
        "values": {"accent_colour": colour if typed is None else typed},
        "default_colour": colours.SITE_ACCENT, "most_kb": logo.MAX_BYTES // 1024, "min_contrast": colours.MIN_CONTRAST,
        "saved": request.query_params.get("saved", ""),
    }  # fmt: skip
    return render(request, "admin/branding.html", context, status)


def _back(request: Request, org: Organisation, saved: str) -> Response:
    url = request.url_for("admin:organisation_branding", organisation_id=org.id)
    return RedirectResponse(f"{url}?saved={saved}", status_code=303)


async def branding(request: Request) -> Response:
    """GET /admin/organisations/{id}/branding."""
    return await _page(request, await staff_organisation(request))


async def branding_colour(request: Request) -> Response:
    """POST …/branding/colour: set the accent colour (empty: the site's own); refused when white text on it is
    hard to read."""
    org = await staff_organisation(request)
    form = await read_form(request)
    colour, errors = colour_form(form)
    if errors:
        return await _page(request, org, errors, text(form, "accent_colour")[:20], status=422)
    who = actor(request)
    async with app_state(request).db.transaction() as conn:
        await services.set_colour(conn, org.id, colour, who.user.email, who.user.id, who.ip)
    return _back(request, org, "colour")


async def branding_logo(request: Request) -> Response:
    """POST …/branding/logo: upload the logo (PNG, JPEG or WebP; checked by its bytes and re-encoded)."""
    org = await staff_organisation(request)
    form = await read_form(request, max_files=1)
    try:
        checked = await logo_form(form)
    except LogoRefused as refused:
        return await _page(request, org, {"logo": str(refused)}, status=422)
    finally:
        await form.close()
    who = actor(request)
    async with app_state(request).db.transaction() as conn:
        await services.set_logo(conn, org.id, checked, who.user.email, who.user.id, who.ip)
    return _back(request, org, "logo")


async def branding_logo_remove(request: Request) -> Response:
    """POST …/branding/logo/remove: the events' pages and e-mails go back to no logo."""
    org = await staff_organisation(request)
    await read_form(request)
    who = actor(request)
    async with app_state(request).db.transaction() as conn:
        await services.remove_logo(conn, org.id, who.user.email, who.user.id, who.ip)
    return _back(request, org, "removed")
