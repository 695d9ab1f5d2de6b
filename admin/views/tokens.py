"""API tokens of an organisation (its organisers, operators) and of the platform (operators): create, list, revoke."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.pages import actor, path_id, render, staff_organisation
from webinar.api import tokens
from webinar.i18n import gettext as _
from webinar.state import app_state
from webinar.web.forms import read_form, text


async def _owner(request: Request) -> tuple[int | None, str]:
    """The organisation in the URL (None: the platform's tokens, operators only) and its name; 404 for another's."""
    if "organisation_id" not in request.path_params:
        return None, _("the platform")
    org = await staff_organisation(request)
    return org.id, org.name


def _here(request: Request, org_id: int | None, name: str) -> str:
    if org_id is None:
        return str(request.url_for(f"admin:{name}"))
    return str(request.url_for(f"admin:organisation_{name}", organisation_id=org_id))


async def _page(
    request: Request, new_token: str | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    org_id, owner = await _owner(request)
    async with app_state(request).db.connection() as conn:
        listed = await tokens.of_organisation(conn, org_id)
    context = {
        "tokens": listed, "owner": owner, "new_token": new_token, "errors": errors or {}, "values": {"name": ""},
        "create_url": _here(request, org_id, "tokens_create"), "org_id": org_id,
    }  # fmt: skip
    response = render(request, "admin/tokens.html", context, status)
    response.headers["Cache-Control"] = "no-store"  # the new token is on the page once, never in a cache
    return response


async def tokens_page(request: Request) -> Response:
    return await _page(request)


async def tokens_create(request: Request) -> Response:
    org_id, _owner_name = await _owner(request)
    form = await read_form(request)
    name = text(form, "name")
    if tokens.name_error(name):
        message = _("Give the token a name of 1 to %(most)s characters.") % {"most": tokens.NAME_MOST}
        return await _page(request, errors={"name": message}, status=422)
    who = actor(request)
    async with app_state(request).db.transaction() as conn:
        token = await tokens.create(conn, org_id, name, who.user.email, who.ip)
    return await _page(request, new_token=token)


async def tokens_revoke(request: Request) -> Response:
    org_id, _owner_name = await _owner(request)
    await read_form(request)
    who = actor(request)
    async with app_state(request).db.transaction() as conn:
        done = await tokens.revoke(conn, path_id(request, "token_id"), org_id, who.user.email, who.ip)
    if not done:
        raise HTTPException(404)
    return RedirectResponse(_here(request, org_id, "tokens_page"), status_code=303)
