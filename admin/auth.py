"""Who the staff member is: their session, their role, the guard of the back office, and which data they may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from webinar import i18n
from webinar.accounts import sessions, staff
from webinar.accounts.staff import StaffUser
from webinar.events import queries as event_queries
from webinar.registration.digest import pending_count
from webinar.settings import Settings
from webinar.state import app_state
from webinar.web.cookies import current_sid


async def current_staff(request: Request) -> StaffUser | None:
    """The logged-in staff user of this request, if any (cached on the request)."""
    if "staff" in request.scope.setdefault("state", {}):
        cached: StaffUser | None = request.state.staff
        return cached
    user = None
    sid = current_sid(request)
    if sid:
        settings = app_state(request).settings
        async with app_state(request).db.connection() as conn:
            session = await sessions.load(conn, sid, dt.timedelta(minutes=settings.staff_session_idle_minutes))
            if session and session.kind == "staff" and session.staff_user_id is not None:
                user = await staff.by_id(conn, session.staff_user_id)
    request.state.staff = user
    return user


def route_names(routes: Sequence[BaseRoute]) -> set[str]:
    """The names of these routes (every back-office route has one)."""
    return {name for route in routes if (name := getattr(route, "name", None))}


def matched_route(routes: Sequence[BaseRoute], scope: Scope) -> tuple[str | None, bool]:
    """The name of the route the router will pick for this request, and whether its method matches too."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return getattr(route, "name", None), True
        if match is Match.PARTIAL and partial is None:
            partial = getattr(route, "name", None)
    return partial, False


class StaffGuard:
    """Deny by default: every request under the Mount it wraps needs a staff login, except to the public routes.

    Anonymous visitors and attendee sessions get a 303 to the login page; the staff user's language is made the
    active one and the user is kept as `request.state.staff`; operator-only routes are a 404 for organisers (they
    should not learn the page exists), and so are the `event_editing` ones unless an operator allowed the organisers
    of their organisation to create and edit its events (`request.state.edits_events`; which event: pages.py); with
    REQUIRE_STAFF_2FA an operator without two-factor sign-in reaches only the `enrolment` routes. A path that no
    route matches is guarded too. A page (a GET) gets the number of registrations waiting for approval in the
    user's scope, for the nav's badge, as `request.state.pending_approvals`.
    """

    def __init__(
        self,
        app: ASGIApp,
        public: frozenset[str],
        operator_only: frozenset[str],
        enrolment: frozenset[str] = frozenset(),
        event_editing: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.routes: Sequence[BaseRoute] = getattr(app, "routes", [])
        self.enrolment = enrolment
        unknown = (public | operator_only | enrolment | event_editing) - route_names(self.routes)
        both = public & (operator_only | event_editing) | operator_only & event_editing
        if unknown or both:  # a misspelt name would silently guard, or open, the wrong page
            raise ValueError(f"bad access table: unknown {sorted(unknown)}, in two sets {sorted(both)}")
        self.public, self.operator_only, self.event_editing = public, operator_only, event_editing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no WebSocket route lives here: refuse one rather than let it past unchecked
            await WebSocketClose()(scope, receive, send)
            return
        name, full = matched_route(self.routes, scope)
        refusal = None if name in self.public else await self._refusal(Request(scope, receive), name if full else None)
        await (refusal or self.app)(scope, receive, send)

    async def _refusal(self, request: Request, route: str | None) -> Response | None:
        """The answer for a visitor who may not go on (a 404 is raised); None for a staff member who may."""
        user = await current_staff(request)
        if user is None:
            login = request.url_for("admin:login").include_query_params(next=request.url.path)
            return RedirectResponse(str(login), status_code=303)
        i18n.activate(user.language)
        if route in self.operator_only and not user.is_operator:
            raise HTTPException(404)
        request.state.edits_events = await edits_events(request, user)
        if route in self.event_editing and not request.state.edits_events:
            raise HTTPException(404)
        if must_enrol(app_state(request).settings, user) and route not in self.enrolment:
            return RedirectResponse(str(request.url_for("admin:account")), status_code=303)
        if request.method == "GET":  # the nav's badge: registrations waiting for approval in the user's scope
            async with app_state(request).db.connection() as conn:
                request.state.pending_approvals = await pending_count(conn, organisation_scope(user))
        return None


async def edits_events(request: Request, user: StaffUser) -> bool:
    """Whether this staff member may create, edit, duplicate and cancel events: an operator, or an organiser whose
    organisation allows its organisers to (off unless an operator turned it on)."""
    if user.is_operator:
        return True
    if user.organisation_id is None:
        return False
    async with app_state(request).db.connection() as conn:
        return await event_queries.organisers_edit_events(conn, user.organisation_id)


def must_enrol(settings: Settings, user: StaffUser) -> bool:
    """Whether this staff member must turn on two-factor sign-in before anything else (REQUIRE_STAFF_2FA)."""
    return settings.require_staff_2fa and user.is_operator and not user.has_two_factor


def organisation_scope(user: StaffUser) -> int | None:
    """The organisation whose data the user may see; None for operators (all of them)."""
    return None if user.is_operator else user.organisation_id
