"""An event's e-mail texts in the back office: each kind and language, its placeholders, a preview, a test send."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.email_forms import WrittenInput, parse_email_text
from admin.pages import render, staff_event
from webinar.clock import now
from webinar.events import queries as event_queries
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.mail import outbox, texts
from webinar.mail.editable import BY_KEY, EDITABLE, LANGUAGES, Editable
from webinar.mail.placeholders import PLACEHOLDERS
from webinar.mail.render import Composed, one_line
from webinar.mail.texts import SUBJECT_MAX, Editor, EmailText
from webinar.registration import emailtexts
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.forms import read_form, text

ACTIONS = ("save", "preview", "test", "reset")
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S)


def _editor(request: Request, event: Event) -> Editor:
    user = request.state.staff
    ip = client_ip(request, app_state(request).settings.trusted_proxies)
    return Editor(user.email, user.id, event.organisation_id, ip)


def _choice(request: Request, event: Event, kind: str | None, language: str | None) -> tuple[Editable, str]:
    """The e-mail and language asked for (the first kind and the event's language by default); 404 for others."""
    chosen = BY_KEY.get(kind or EDITABLE[0].key)
    language = language or event.language
    if chosen is None or language not in LANGUAGES:
        raise HTTPException(404)
    return chosen, language


async def organiser_name(request: Request, event: Event) -> str:
    """The name of the event's organisation, as the e-mails print it (also for staff's messages: messages.py)."""
    async with app_state(request).db.connection() as conn:
        org = await event_queries.organisation(conn, event.organisation_id)
    return org.name if org else ""


def _written(event: Event, kind: Editable, language: str, data: WrittenInput) -> EmailText:
    """A text as typed, not stored: what the preview and the test send use."""
    return EmailText(event.id, kind.kind, language, data.subject, data.body, "", now())


def mail_preview(mail: Composed) -> dict[str, Any]:
    """The e-mail as the registrant reads it: the subject, the text part, and the HTML part (ours: its text escaped
    when it was made) shown inside the page."""
    found = _BODY.search(mail.html)
    html = Markup(found.group(1) if found else "")  # noqa: S704  # nosec B704 - our layout, the organiser's text escaped
    return {"subject": mail.subject, "text": mail.text, "html": html}


async def _page(
    request: Request,
    event: Event,
    kind: Editable,
    language: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    written: EmailText | None = None,
    done: str = "",
    status: int = 200,
) -> Response:
    """The editor, showing `values` (typed; otherwise the stored text or our default) and the preview of `written`
    (typed and valid; otherwise the stored text, or our template itself when there is none)."""
    mailer = app_state(request).mailer
    async with app_state(request).db.connection() as conn:
        stored = await texts.of_event(conn, event.id)
    current = stored.get((kind.kind, language))
    default_subject, default_body = emailtexts.default_text(mailer, kind, event, language)
    if values is None:
        values = {"subject": current.subject, "body": current.body} if current else {}
        values = values or {"subject": default_subject, "body": default_body}
    organiser = await organiser_name(request, event)
    shown = written if written is not None else current
    sample = None if errors else emailtexts.compose_sample(mailer, kind, event, organiser, language, shown)
    preview = mail_preview(sample) if sample else None
    context = {
        "event": event,
        "kinds": [(k, {lang: (k.kind, lang) in stored for lang in LANGUAGES}) for k in EDITABLE],
        "kind": kind,
        "language": language,
        "languages": LANGUAGES,
        "current": current,
        "values": values,
        "errors": errors or {},
        "placeholders": [(name, _(PLACEHOLDERS[name])) for name in kind.available],
        "required": kind.required,
        "preview": preview,
        "done": done or request.query_params.get("done", ""),
        "to_address": request.state.staff.email,
        "sample_name": " ".join(emailtexts.SAMPLE_NAMES[language]),
    }
    return render(request, "admin/emails.html", context, status)


async def emails(request: Request) -> Response:
    """GET /admin/events/{event_id}/emails?kind=&lang=: the editor of one e-mail in one language."""
    event = await staff_event(request)
    kind, language = _choice(request, event, request.query_params.get("kind"), request.query_params.get("lang"))
    return await _page(request, event, kind, language)


def _back(request: Request, event: Event, kind: Editable, language: str, done: str) -> Response:
    target = request.url_for("admin:emails", event_id=event.id).include_query_params(
        kind=kind.key, lang=language, done=done
    )
    return RedirectResponse(str(target), status_code=303)


async def emails_post(request: Request) -> Response:
    """POST /admin/events/{event_id}/emails: `action` save, preview, test (to oneself) or reset, for `kind` and
    `language`; a text with a problem comes back with it beside its field (422), and nothing is stored or sent."""
    event = await staff_event(request)
    form = await read_form(request)
    kind, language = _choice(request, event, text(form, "kind"), text(form, "language"))
    action = text(form, "action")
    if action not in ACTIONS:
        raise HTTPException(400, _("Unknown action."))
    db, editor = app_state(request).db, _editor(request, event)
    if action == "reset":
        await texts.reset(db, editor, event.id, kind.kind, language)
        return _back(request, event, kind, language, "reset")
    data, errors, values = parse_email_text(form, kind)
    if data is None:
        return await _page(request, event, kind, language, values, errors, status=422)
    if action == "save":
        await texts.save(db, editor, event.id, kind.kind, language, data.subject, data.body)
        return _back(request, event, kind, language, "saved")
    written = _written(event, kind, language, data)
    if action == "test":
        await _send_test(request, event, kind, language, written, editor)
    return await _page(request, event, kind, language, values, written=written, done=action)


async def _send_test(
    request: Request, event: Event, kind: Editable, language: str, written: EmailText, editor: Editor
) -> None:
    """Queue the typed text, written for the sample registrant, to the staff member's own address."""
    state = app_state(request)
    mail = emailtexts.compose_sample(state.mailer, kind, event, await organiser_name(request, event), language, written)
    subject = one_line(_("[Test] %(subject)s") % {"subject": mail.subject})[:SUBJECT_MAX]
    row = outbox.row_values(
        kind="email_test", to_address=editor.email, mail_from=state.settings.mail_from, event_id=event.id,
        subject=subject, body_text=mail.text, body_html=mail.html,
    )  # fmt: skip
    await texts.queue_test(db=state.db, editor=editor, event_id=event.id, kind=kind.kind, language=language, row=row)
