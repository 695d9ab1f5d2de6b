"""An event's custom questions in the back office: the list, the add / edit form, moving, removing, a preview."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.pages import MAX_ID, render, staff_event
from admin.question_forms import new_question_values, parse_question_form, question_values
from webinar import i18n
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.registration import queries, questionnaire
from webinar.registration.fields import FIELDS
from webinar.registration.questionnaire import KIND_LOCKED, TOO_MANY, Refused
from webinar.registration.questions import KIND_LABELS, PER_EVENT_MOST, Question
from webinar.registration.services import Actor
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.forms import read_form, text

ACTIONS = ("add", "edit", "up", "down", "remove")


def _actor(request: Request) -> Actor:
    user = request.state.staff
    return Actor(user.id, user.email, client_ip(request, app_state(request).settings.trusted_proxies))


def _preview(request: Request, event: Event, asked: list[Question], language: str) -> Markup:
    """The registration form's fields as an attendee reading `language` sees them (rendered in that language)."""
    template = app_state(request).templates.env.get_template("admin/_questions_preview.html")
    with i18n.use(language):
        values = {field.name: "" for field in FIELDS}
        html = template.render(event=event, fields=FIELDS, values=values, questions=asked, language=language)
    return Markup(html)  # noqa: S704  # nosec B704 - our own template's output, autoescaped as it was rendered


def _refusal(reason: str) -> str:
    if reason == KIND_LOCKED:
        return _("People have answered this question, so its kind can no longer change. Remove it and add a new one.")
    assert reason == TOO_MANY
    return _("An event asks at most %(n)s questions; remove one before adding another.") % {"n": PER_EVENT_MOST}


async def _page(
    request: Request,
    event: Event,
    editing: Question | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    async with app_state(request).db.connection() as conn:
        every = await queries.questions_of(conn, event.id, queries.EVERY)
    asked = [q for q in every if q.removed_at is None]
    language = request.query_params.get("preview", event.language)
    language = language if language in i18n.LANGUAGES else event.language
    context = {
        "event": event,
        "asked": asked,
        "removed": [q for q in every if q.removed_at is not None],
        "editing": editing,
        "values": values,
        "errors": errors,
        "kinds": [(kind, _(label)) for kind, label in KIND_LABELS.items()],
        "preview": _preview(request, event, asked, language),
        "preview_language": language,
        "done": request.query_params.get("done", ""),
    }
    return render(request, "admin/questions.html", context, status)


def _question_id(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID else None


async def _asked(request: Request, event: Event, question_id: int | None) -> Question:
    """One question the event asks now; 404 for any other id (another event's too)."""
    async with app_state(request).db.connection() as conn:
        asked = await queries.questions_of(conn, event.id)
    found = next((q for q in asked if q.id == question_id), None)
    if found is None:
        raise HTTPException(404)
    return found


async def questions(request: Request) -> Response:
    """GET /admin/events/{event_id}/questions (`?edit=` a question's id opens it in the form)."""
    event = await staff_event(request)
    if (edit := request.query_params.get("edit")) is not None:
        editing = await _asked(request, event, _question_id(edit))
        return await _page(request, event, editing, question_values(editing), {})
    return await _page(request, event, None, new_question_values(), {})


def _done(request: Request, event: Event, what: str) -> Response:
    target = request.url_for("admin:questions", event_id=event.id).include_query_params(done=what)
    return RedirectResponse(str(target), status_code=303)


async def _save(request: Request, event: Event, form: FormData, editing: Question | None) -> Response:
    data, errors, values = parse_question_form(form, event.language)
    db, actor = app_state(request).db, _actor(request)
    if data is not None:
        try:
            if editing is None:
                await questionnaire.add(db, event, data, actor)
            elif not await questionnaire.update(db, event, editing.id, data, actor):
                raise HTTPException(404)  # removed meanwhile
        except Refused as refused:
            errors = {refused.field: _refusal(refused.reason)}
    if errors:
        return await _page(request, event, editing, values, errors, status=422)
    return _done(request, event, "added" if editing is None else "saved")


async def questions_post(request: Request) -> Response:
    """POST /admin/events/{event_id}/questions: `action` add, edit, up, down or remove (with `question_id`)."""
    event = await staff_event(request)
    form = await read_form(request)
    action = text(form, "action")
    if action not in ACTIONS:
        raise HTTPException(400, _("Unknown action."))
    if action == "add":
        return await _save(request, event, form, None)
    question = await _asked(request, event, _question_id(text(form, "question_id")))
    if action == "edit":
        return await _save(request, event, form, question)
    db, actor = app_state(request).db, _actor(request)
    if action == "remove":
        await questionnaire.remove(db, event, question.id, actor)
        return _done(request, event, "removed")
    await questionnaire.move(db, event, question.id, action, actor)
    return _done(request, event, "moved")
