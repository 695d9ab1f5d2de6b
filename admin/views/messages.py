"""Staff's message to an event's registrants: the form, a preview with how many it reaches, the confirmed send."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin import services
from admin.message_forms import MessageInput, parse_message_form
from admin.pages import actor, render, staff_event
from admin.views.emails import mail_preview, organiser_name
from webinar.clock import now
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.mail.editable import MESSAGE
from webinar.mail.placeholders import PLACEHOLDERS
from webinar.mail.texts import EmailText
from webinar.registration import emailtexts, messages
from webinar.state import app_state
from webinar.tables import MESSAGE_AUDIENCES
from webinar.web.forms import read_form, text

ACTIONS = ("preview", "send")
EMPTY = {"audience": "all", "subject": "", "body": ""}


async def _page(
    request: Request,
    event: Event,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    data: MessageInput | None = None,
    status: int = 200,
) -> Response:
    """The form with `values`; with `data` (checked), its preview for a sample registrant and the confirm box."""
    async with app_state(request).db.connection() as conn:
        counts = await messages.counts(conn, event.id)
        sent = await messages.of_event(conn, event.id)
    preview = None
    if data is not None:
        written = EmailText(event.id, MESSAGE.kind, event.language, data.subject, data.body, "", now())
        organiser = await organiser_name(request, event)
        mail = emailtexts.compose_sample(app_state(request).mailer, MESSAGE, event, organiser, event.language, written)
        preview = mail_preview(mail)
    context = {
        "event": event,
        "values": values,
        "errors": errors or {},
        "counts": counts,
        "audiences": MESSAGE_AUDIENCES,
        "preview": preview,
        "recipients": counts[data.audience] if data else 0,
        "placeholders": [(name, _(PLACEHOLDERS[name])) for name in MESSAGE.available],
        "sent": sent,
        "done": request.query_params.get("done", ""),
    }
    return render(request, "admin/message.html", context, status)


async def message_form(request: Request) -> Response:
    """`GET /admin/events/{id}/message`: write a message to the event's registrants (all, or one status)."""
    return await _page(request, await staff_event(request), dict(EMPTY))


async def message_post(request: Request) -> Response:
    """`POST /admin/events/{id}/message`: `action` preview (the e-mail for a sample registrant and how many it reaches)
    or send (with the box ticked: one e-mail each, through the outbox). A problem comes back beside its field (422)
    and nothing is stored or sent."""
    event = await staff_event(request)
    form = await read_form(request)
    action = text(form, "action")
    if action not in ACTIONS:
        raise HTTPException(400, _("Unknown action."))
    data, errors, values = parse_message_form(form)
    if data is None:
        return await _page(request, event, values, errors, status=422)
    if action == "preview":
        return await _page(request, event, values, data=data)
    if text(form, "confirm") != "yes":
        errors = {"confirm": _("Tick the box to confirm that the message goes to these registrants.")}
        return await _page(request, event, values, errors, data=data, status=422)
    state = app_state(request)
    try:
        await services.message_registrants(
            state.db, state.settings, actor(request), event.id, data.audience, data.subject, data.body
        )
    except services.NobodyToMessage:
        errors = {"audience": _("Nobody to e-mail: no registrant of this event is in the group chosen.")}
        if event.cancelled:
            errors = {"audience": _("This event is cancelled: its registrants were told, and no message can follow.")}
        return await _page(request, event, values, errors, status=422)
    target = request.url_for("admin:message_form", event_id=event.id).include_query_params(done="sent")
    return RedirectResponse(str(target), status_code=303)
