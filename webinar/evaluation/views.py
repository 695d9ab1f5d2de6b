"""The attendee's final evaluation, `/events/{slug}/me/evaluation`: the test (GET) and its answers (POST)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from webinar.access import services as access_services
from webinar.access.queries import Attendee
from webinar.clock import now
from webinar.evaluation import forms, queries, services
from webinar.evaluation.queries import Question
from webinar.evaluation.services import Refusal
from webinar.events.public import public_event
from webinar.events.queries import Event
from webinar.state import app_state
from webinar.web.cookies import current_sid
from webinar.web.forms import read_form
from webinar.web.urls import see_other

STATUS = {Refusal.OFF: 404, Refusal.TAKEN: 409, Refusal.CHANGED: 409}  # the others: 403


def _render(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    response: Response = app_state(request).templates.TemplateResponse(
        request, "webinar/evaluation.html", context, status_code=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def _attendee_and_test(request: Request) -> tuple[Event, Attendee, list[Question]]:
    """The event, the signed-in attendee (404 without a session for this event) and the event's test."""
    event = await public_event(request)
    state = app_state(request)
    attendee = await access_services.viewer(state.db, state.settings, event, current_sid(request))
    if attendee is None:
        raise HTTPException(404)
    async with state.db.connection() as conn:
        test = await queries.test_of(conn, event.id)
    return event, attendee, test


def _refused(request: Request, event: Event, refused: Refusal) -> Response:
    if refused is Refusal.OFF:
        raise HTTPException(404)
    return _render(request, {"event": event, "refused": refused}, STATUS.get(refused, 403))


async def _taken(request: Request, event: Event, attendee: Attendee, test: list[Question]) -> Refusal | None:
    async with app_state(request).db.connection() as conn:
        taken = await queries.result_of(conn, attendee.id) is not None
    return services.refusal(event, attendee.status, test, taken, now())


async def evaluation(request: Request) -> Response:
    """`GET /events/{slug}/me/evaluation`: the questions, once the event has ended, to a person who has not answered."""
    event, attendee, test = await _attendee_and_test(request)
    if (refused := await _taken(request, event, attendee, test)) is not None:
        return _refused(request, event, refused)
    return _render(request, {"event": event, "refused": None, "test": test, "chosen": {}, "errors": {}})


async def evaluation_post(request: Request) -> Response:
    """`POST /events/{slug}/me/evaluation`: score and keep the answers (once), then back to /me with the result."""
    event, attendee, test = await _attendee_and_test(request)
    form = await read_form(request)
    if (refused := await _taken(request, event, attendee, test)) is not None:
        return _refused(request, event, refused)
    chosen, errors = forms.parse_answers(form, test)
    if errors:
        shown = {forms.field(q): {str(v) for v in form.getlist(forms.field(q))} for q in test}
        return _render(request, {"event": event, "refused": None, "test": test, "chosen": shown, "errors": errors}, 422)
    outcome = await services.submit(app_state(request).db, event, attendee.id, attendee.status, chosen)
    if isinstance(outcome, Refusal):
        return _refused(request, event, outcome)
    return see_other(request, "me", "#evaluation", slug=event.slug)
