"""Thin handlers for the exports and the traffic page: parse, check tenancy, call one service, respond."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from admin.pages import render, staff_event
from reports import chart, forms, services, traffic
from reports.exporters import EXPORTERS, FORMATS
from webinar.state import app_state
from webinar.web.client_ip import client_ip

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


async def export(request: Request) -> Response:
    event = await staff_event(request)
    exporter, fmt = EXPORTERS.get(request.path_params["report"]), request.path_params["fmt"]
    if exporter is None or fmt not in FORMATS:
        raise HTTPException(404)
    job = services.ExportRequest(
        exporter=exporter,
        event=event,
        interval=forms.parse_interval(request.query_params, event.timezone)
        if exporter.uses_interval
        else forms.Interval(),
        fmt=fmt,
        delimiter=forms.parse_separator(request.query_params),
        user=request.state.staff,
        ip=client_ip(request, app_state(request).settings.trusted_proxies),
    )
    return StreamingResponse(
        services.export(app_state(request).db, job),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{job.filename}"', "Cache-Control": "no-store"},
    )


async def traffic_page(request: Request) -> Response:
    event = await staff_event(request)
    interval = forms.parse_interval(request.query_params, event.timezone)
    page = forms.parse_page(request.query_params)
    whole = request.query_params.get("span") == "whole"
    async with app_state(request).db.connection() as conn:
        report = await traffic.build(conn, event, interval, page, whole)
    context = {
        "event": event,
        "report": report,
        "chart": chart.build_chart(report.series, event.timezone),
        "form_from": forms.format_local(interval.start, event.timezone),
        "form_to": forms.format_local(interval.end, event.timezone),
        "query": urlencode({k: v for k in ("from", "to") if (v := request.query_params.get(k, ""))}),
        "whole": whole,
        "exporters": list(EXPORTERS.values()),
    }
    return render(request, "reports/traffic.html", context)
