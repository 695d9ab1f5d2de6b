"""The mail queue for operators: every e-mail, its state, a safe preview, and a retry button."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.pages import path_id, render
from admin.views.registrants import page_number
from webinar import audit
from webinar.i18n import N_
from webinar.i18n import gettext as _
from webinar.mail import outbox as mail_outbox
from webinar.registration import notifications
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.forms import read_form

# Marked for the catalogue: the page shows each status through gettext.
STATUSES = (N_("queued"), N_("sending"), N_("sent"), N_("dead"), N_("cancelled"))


async def outbox(request: Request) -> Response:
    """GET /admin/outbox?status=&page=."""
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    page = page_number(request.query_params.get("page"))
    async with app_state(request).db.connection() as conn:
        messages, total = await mail_outbox.page(conn, status or None, page)
        counts = await mail_outbox.counts(conn)
    pages = max(1, -(-total // mail_outbox.PAGE_SIZE))
    context = {
        "messages": messages,
        "counts": counts,
        "statuses": STATUSES,
        "status": status,
        "page": page,
        "pages": pages,
        "total": total,
    }
    return render(request, "admin/outbox.html", context)


async def outbox_message(request: Request) -> Response:
    """One message: headers, the text part, and the HTML part shown as escaped source (never rendered)."""
    async with app_state(request).db.connection() as conn:
        message = await mail_outbox.get(conn, path_id(request, "message_id"))
        if message is None:
            raise HTTPException(404)
        preview = None
        if not message.composed and message.status in ("queued", "sending"):  # written when sent: show it as now
            preview = await notifications.compose_queued(conn, app_state(request).mailer, message)
    context = {"message": message, "preview": preview, "retryable": mail_outbox.RETRYABLE}
    return render(request, "admin/outbox_message.html", context)


async def outbox_retry(request: Request) -> Response:
    """POST: a dead or queued message goes back to the queue, due now."""
    await read_form(request)
    message_id = path_id(request, "message_id")
    user = request.state.staff
    async with app_state(request).db.transaction() as conn:
        if await mail_outbox.get(conn, message_id) is None:
            raise HTTPException(404)
        if not await mail_outbox.retry(conn, message_id):
            raise HTTPException(409, _("Only queued or dead messages can be retried."))
        await audit.record(
            conn,
            "outbox.retry",
            actor=user.email,
            actor_staff_id=user.id,
            ip=client_ip(request, app_state(request).settings.trusted_proxies),
            details={"message_id": message_id},
        )
    return RedirectResponse(str(request.url_for("admin:outbox_message", message_id=message_id)), status_code=303)
