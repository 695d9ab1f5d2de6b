"""The reports' URL table, part of the back office's Mount("/admin"): its names are `admin:…`, its guard the same."""

from __future__ import annotations

from starlette.routing import Route

from reports import views

routes = [
    Route("/events/{event_id:int}/reports/{report}.{fmt}", views.export, methods=["GET"], name="report"),
    Route("/events/{event_id:int}/traffic", views.traffic_page, methods=["GET"], name="traffic"),
]
