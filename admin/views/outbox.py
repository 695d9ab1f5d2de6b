"""The mail queue for operators: every e-mail, its state, a safe preview, and a retry button."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.pages import path_id, render
from admin.views.registrants import page_number
from webinar import audit
from webinar.i18n import N_
from webinar.i18n import gettext as _
from webinar.mail import editable
from webinar.mail import outbox as mail_outbox
from webinar.mail.render import Dropped
from webinar.registration import notifications
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.forms import read_form

# What each kind of e-mail is, for the queue's "Kind" column: the editable ones by their editor's name, the rest here.
OTHER_KINDS = {
    "already_registered": N_("Already registered: the link again"),
    "join_link": N_("The join link, sent again"),
    "confirm_email": N_("Confirm a new e-mail address"),
    "email_test": N_("Test e-mail"),
    editable.MESSAGE.kind: editable.MESSAGE.label,
}


def kind_label(kind: str) -> str:
    """The name of a kind of e-mail in the page's language (the stored kind when it has none)."""
    if kind in editable.BY_KIND:
        return _(editable.BY_KIND[kind].label)
    return _(OTHER_KINDS[kind]) if kind in OTHER_KINDS else kind


async def outbox(request: Request) -> Response:
    """GET /admin/outbox?status=&page=: `status` is one of the states (queued, retrying, sending, sent, failed,
    cancelled)."""
    status = request.query_params.get("status", "")
    status = status if status in mail_outbox.STATES else ""
    page = page_number(request.query_params.get("page"))
    async with app_state(request).db.connection() as conn:
        messages, total = await mail_outbox.page(conn, status or None, page)
        counts = await mail_outbox.counts(conn)
    pages = max(1, -(-total // mail_outbox.PAGE_SIZE))
    context = {
        "messages": messages,
        "counts": counts,
        "statuses": mail_outbox.STATES,
        "status": status,
        "page": page,
        "pages": pages,
        "total": total,
        "kind_label": kind_label,
    }
    return render(request, "admin/outbox.html", context)


async def outbox_message(request: Request) -> Response:
    """One message: headers, the text part, and the HTML part shown as escaped source (never rendered)."""
    async with app_state(request).db.connection() as conn:
        message = await mail_outbox.get(conn, path_id(request, "message_id"))
        if message is None:
            raise HTTPException(404)
        preview, dropped = None, None
        if not message.composed and message.status in ("queued", "sending"):  # written when sent: show it as now
            written = await notifications.compose_queued(conn, app_state(request).mailer, message)
            if isinstance(written, Dropped):  # it will not go: say why instead
                dropped = written.reason
            else:
                preview = written
    context: dict[str, Any] = {"message": message, "preview": preview, "dropped": dropped, "kind_label": kind_label}
    context["retryable"] = mail_outbox.RETRYABLE
    return render(request, "admin/outbox_message.html", context)


async def outbox_retry(request: Request) -> Response:
    """POST: a failed or queued message goes back to the queue, due now."""
    await read_form(request)
    message_id = path_id(request, "message_id")
    user = request.state.staff
    async with app_state(request).db.transaction() as conn:
        if await mail_outbox.get(conn, message_id) is None:
            raise HTTPException(404)
        if not await mail_outbox.retry(conn, message_id):
            raise HTTPException(409, _("Only queued or failed messages can be retried."))
        await audit.record(
            conn,
            "outbox.retry",
            actor=user.email,
            actor_staff_id=user.id,
            ip=client_ip(request, app_state(request).settings.trusted_proxies),
            details={"message_id": message_id},
        )
    return RedirectResponse(str(request.url_for("admin:outbox_message", message_id=message_id)), status_code=303)
