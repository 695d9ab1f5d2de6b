"""The event's certificates for its staff: the register (issued and revoked numbers), revoking one, and all the
valid ones as one streamed ZIP (issuing first the missing certificates of everyone who qualifies)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from admin.pages import path_id, render, staff_event
from webinar import audit
from webinar.certificates import documents, queries, services
from webinar.certificates.services import Revoker
from webinar.clock import now
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.i18n import ngettext
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.forms import has_control_chars, read_form, text

REASON_LENGTH = 500


async def _page(request: Request, event: Event, status: int = 200, **extra: Any) -> Response:
    async with app_state(request).db.connection() as conn:
        register = await queries.register(conn, event.id)
    context: dict[str, Any] = {
        "event": event, "register": register, "refused": services.issuable(event, now()), "errors": {},
        "values": {}, "revoked": request.query_params.get("revoked", ""),
        "kinds": {c.id: documents.kind(event, c) for c in register},  # completion or participation, with an evaluation
    }  # fmt: skip
    context.update(extra)
    return render(request, "admin/certificates.html", context, status)


async def certificates(request: Request) -> Response:
    """GET /admin/events/{id}/certificates: the register, with a revoke form beside each valid certificate."""
    return await _page(request, await staff_event(request))


def _reason_problem(reason: str) -> str:
    if not reason:
        return _("Say why the certificate is revoked (the register keeps it).")
    if has_control_chars(reason):
        return _("Remove the control characters from this field.")
    if len(reason) > REASON_LENGTH:
        return ngettext("Use at most %(n)s character.", "Use at most %(n)s characters.", REASON_LENGTH) % {
            "n": REASON_LENGTH
        }
    return ""


async def certificate_revoke(request: Request) -> Response:
    """POST /admin/events/{id}/certificates/{certificate_id}/revoke: revoke one, with a reason (audited)."""
    event = await staff_event(request)
    form = await read_form(request)
    certificate_id = path_id(request, "certificate_id")
    field = f"reason-{certificate_id}"  # one form per certificate on the register page
    reason = text(form, field)
    if problem := _reason_problem(reason):
        return await _page(request, event, 422, errors={field: problem}, values={field: reason})
    user = request.state.staff
    by = Revoker(user.email, user.id, client_ip(request, app_state(request).settings.trusted_proxies))
    done = await services.revoke(app_state(request).db, event, certificate_id, by, reason)
    if done is None:
        raise HTTPException(404)
    target = request.url_for("admin:certificates", event_id=event.id)
    return RedirectResponse(str(target.include_query_params(revoked=str(certificate_id))), status_code=303)


async def certificates_zip(request: Request) -> Response:
    """GET /admin/events/{id}/certificates.zip: every valid certificate, streamed; after the end of an event that
    issues certificates, the missing ones of everyone who qualifies are issued first (before: those issued so far,
    which is none; after certificates were switched off: those issued while they were on)."""
    event = await staff_event(request)
    state, user = app_state(request), request.state.staff
    issued = await services.issue_missing(state.db, event, user.email)
    async with state.db.transaction() as conn:
        await audit.record(
            conn, "certificates.downloaded", actor=user.email, actor_staff_id=user.id,
            organisation_id=event.organisation_id, event_id=event.id,
            ip=client_ip(request, state.settings.trusted_proxies), details={"issued_now": issued},
        )  # fmt: skip
    name = "certificates-" + event.slug + ".zip"
    return StreamingResponse(
        documents.zip_of_valid(state.db, state.settings.base_url, event),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
