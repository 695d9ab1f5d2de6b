"""The API's URL table: every operation declared once (its route, parameters, body and answers), the OpenAPI
document made from the declarations, and the docs page beside it."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from webinar.api import problems, spec, views
from webinar.api.spec import PAGING, Operation, Param, path_param
from webinar.state import app_state
from webinar.tables import STATUSES

EVENT = path_param("event_id", "The event's id.")
REGISTRATION = path_param("registration_id", "The registration's id.")
WEBHOOK = path_param("webhook_id", "The subscription's id.")
MOMENT = {"type": "string", "format": "date-time"}

OPERATIONS = [
    Operation(
        "GET", "/events", "list_events", views.list_events, "The organisation's events, by id.",
        {200: ("A page of events", "EventPage")}, PAGING, tags=("events",),
    ),
    Operation(
        "GET", "/events/{event_id}", "get_event", views.get_event,
        "One event, with its consent text's version, its fields and its questions.",
        {200: ("The event", "EventDetail")}, (EVENT,), tags=("events",),
    ),
    Operation(
        "GET", "/events/{event_id}/registrations", "list_registrations", views.list_registrations,
        "The event's registrations, by id.", {200: ("A page of registrations", "RegistrationPage")},
        (EVENT, Param("status", "query", {"type": "string", "enum": list(STATUSES)}), *PAGING),
        tags=("registrations",),
    ),
    Operation(
        "POST", "/events/{event_id}/registrations", "create_registration", views.create_registration,
        "Register a person, by the registration form's rules (consent, capacity, waiting list, duplicates, e-mails).",
        {201: ("The new registration", "Registration")}, (EVENT,), body="NewRegistration", tags=("registrations",),
    ),
    Operation(
        "GET", "/registrations/{registration_id}", "get_registration", views.get_registration, "One registration.",
        {200: ("The registration", "Registration")}, (REGISTRATION,), tags=("registrations",),
    ),
    Operation(
        "PATCH", "/registrations/{registration_id}", "patch_registration", views.patch_registration,
        "Approve, reject or cancel a registration (its e-mail goes as from the back office).",
        {200: ("The registration as it is now", "Registration")}, (REGISTRATION,), body="StatusChange",
        tags=("registrations",),
    ),
    Operation(
        "GET", "/events/{event_id}/sessions", "list_sessions", views.list_sessions,
        "The event's viewing sessions started in [from, to), by start.", {200: ("A page of sessions", "SessionPage")},
        (EVENT, Param("from", "query", MOMENT, "Started at or after."), Param("to", "query", MOMENT, "Before."),
         *PAGING),
        tags=("attendance",),
    ),
    Operation(
        "GET", "/events/{event_id}/attendance", "list_attendance", views.list_attendance,
        "Each approved registrant's attendance (minutes live and of replay, checks, qualifies, certificate).",
        {200: ("A page of verdicts", "AttendancePage")}, (EVENT, *PAGING), tags=("attendance",),
    ),
    Operation(
        "GET", "/webhooks", "list_webhooks", views.list_webhooks, "The organisation's webhook subscriptions.",
        {200: ("The subscriptions", "WebhookList")}, tags=("webhooks",),
    ),
    Operation(
        "POST", "/webhooks", "create_webhook", views.create_webhook,
        "Subscribe a URL to events; the answer carries its signing secret, once.",
        {201: ("The subscription, with its secret", "Webhook")}, body="NewWebhook", tags=("webhooks",),
    ),
    Operation(
        "DELETE", "/webhooks/{webhook_id}", "delete_webhook", views.delete_webhook, "Remove a subscription.",
        {204: ("Removed", "")}, (WEBHOOK,), tags=("webhooks",),
    ),
]  # fmt: skip


async def openapi_json(request: Request) -> Response:
    """GET /api/v1/openapi.json: the OpenAPI 3.1 document, made from OPERATIONS."""
    return JSONResponse(spec.openapi(OPERATIONS, app_state(request).settings.base_url))


async def docs(request: Request) -> Response:
    """GET /api/v1/docs: the operations, their parameters and answers, readable without JavaScript."""
    context = {"operations": OPERATIONS, "document": spec.openapi(OPERATIONS, app_state(request).settings.base_url)}
    response: Response = app_state(request).templates.TemplateResponse(request, "api/docs.html", context)
    return response


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"], name="openapi"),
    Route("/docs", docs, methods=["GET"], name="docs"),
    *spec.routes_of(OPERATIONS),
]


def mount() -> Mount:
    """The API at /api/v1: every answer of its routes, errors included, is JSON (problem+json)."""
    errors = Middleware(ExceptionMiddleware, handlers=problems.handlers())
    return Mount("/api/v1", routes=routes, name="api", middleware=[errors])
