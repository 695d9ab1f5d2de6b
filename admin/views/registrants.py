"""An event's registrants: search, filter, page; approve or reject one or many; one registrant's record."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.pages import MAX_ID, path_id, render, staff_event
from webinar import clock
from webinar.attendance import queries as attendance
from webinar.i18n import N_
from webinar.registration import queries, services
from webinar.registration.fields import FIELDS
from webinar.state import app_state
from webinar.tables import STATUSES
from webinar.web.client_ip import client_ip
from webinar.web.forms import read_form

MAX_PAGE = 100_000
# The stored statuses (webinar.tables.STATUSES), marked for the catalogue: pages show them through gettext.
STATUS_LABELS = (
    N_("unconfirmed"), N_("pending"), N_("approved"), N_("rejected"), N_("waitlisted"), N_("cancelled"),
)  # fmt: skip


def page_number(value: str | None) -> int:
    """The page asked for; anything that is not a sensible page number means the first page."""
    return int(value) if value and value.isdigit() and 0 < int(value) <= MAX_PAGE else 1


async def registrants(request: Request) -> Response:
    """GET /admin/events/{event_id}/registrants?q=&status=&page=."""
    event = await staff_event(request)
    q = request.query_params.get("q", "").strip()[:200]
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    page = page_number(request.query_params.get("page"))
    async with app_state(request).db.connection() as conn:
        rows, total = await queries.search(conn, event.id, q, status or None, page)
        counts = await queries.status_counts(conn, event.id)
    pages = max(1, -(-total // queries.PAGE_SIZE))
    context = {
        "event": event,
        "rows": rows,
        "total": total,
        "counts": counts,
        "statuses": STATUSES,
        "q": q,
        "status": status,
        "page": page,
        "pages": pages,
        "done": request.query_params.get("done", ""),
    }
    return render(request, "admin/registrants.html", context)


def _ids(form: FormData) -> list[int]:
    values = [v for v in form.getlist("ids") if isinstance(v, str)]
    return [int(v) for v in values if v.isdigit() and 0 < int(v) <= MAX_ID]


async def _decide(request: Request, decision: str) -> Response:
    event = await staff_event(request)
    form = await read_form(request)
    user = request.state.staff
    actor = services.Actor(user.id, user.email, client_ip(request, app_state(request).settings.trusted_proxies))
    changed = await services.decide(
        app_state(request).db, app_state(request).mailer, event, _ids(form), decision, actor
    )
    target = request.url_for("admin:registrants", event_id=event.id).include_query_params(done=f"{decision}:{changed}")
    return RedirectResponse(str(target), status_code=303)


async def approve(request: Request) -> Response:
    """POST …/registrants/approve with one `ids` field per registrant."""
    return await _decide(request, "approve")


async def reject(request: Request) -> Response:
    """POST …/registrants/reject with one `ids` field per registrant."""
    return await _decide(request, "reject")


async def registrant(request: Request) -> Response:
    """One registrant: their data and answers, their consent records and their viewing sessions."""
    event = await staff_event(request)
    async with app_state(request).db.connection() as conn:
        reg = await queries.by_id(conn, event.id, path_id(request, "registration_id"))
        if reg is None:
            raise HTTPException(404)
        consents = await queries.consents(conn, reg.id)
        viewing = await queries.sessions(conn, reg.id)
        asked = await queries.questions_of(conn, event.id, queries.KEPT)
        answers = await queries.answers_of(conn, reg.id)
        verdict = await attendance.verdict_of(conn, event, reg.id)
        checks = await attendance.checks_of(conn, reg.id)
    context = {"event": event, "reg": reg, "fields": FIELDS, "consents": consents, "sessions": viewing}
    context |= {"questions": asked, "answers": answers, "verdict": verdict, "checks": checks}
    context["ended"] = clock.now() >= event.ends_at
    return render(request, "admin/registrant.html", context)
