"""The public site's URL table."""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from webinar.events import views as event_views
from webinar.health import healthz, readyz
from webinar.settings import PROJECT_ROOT

routes = [
    Route("/", event_views.home, name="home"),
    Route("/healthz", healthz, name="healthz"),
    Route("/readyz", readyz, name="readyz"),
    Route("/events/{slug}", event_views.event_page, name="event"),
    Mount("/static", app=StaticFiles(directory=PROJECT_ROOT / "static"), name="static"),
]
