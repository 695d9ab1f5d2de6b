"""Importing a list of people into an event: the upload form, its preview with every row's problems, the
confirmation (SPEC §11; registration/imports.py does the work)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.pages import render, staff_event
from webinar.events.queries import Event
from webinar.i18n import gettext as _
from webinar.registration import importfile, imports, queries
from webinar.registration.fields import FIELDS, HIDDEN, REQUIRED
from webinar.registration.importfile import FileRefused, Table
from webinar.registration.importplan import NOT_IMPORTED, Plan
from webinar.registration.services import Actor
from webinar.state import app_state
from webinar.web.client_ip import client_ip
from webinar.web.forms import read_form, text

# The file and the form's few fields around it: the body limit of this path (web/middleware.py, admin/routes.py).
BODY_MOST = importfile.MAX_BYTES + 256 * 1024
PREVIEW_MOST = 200  # rows to be imported shown in full; every refused row is always shown
ACTIONS = ("preview", "confirm", "discard")
SEND, DONT_SEND = "send", "dont_send"


def _actor(request: Request) -> Actor:
    user = request.state.staff
    return Actor(user.id, user.email, client_ip(request, app_state(request).settings.trusted_proxies))


async def _expected(request: Request, event: Event) -> list[tuple[str, bool]]:
    """The columns this event's list may have, in the registered export's order, each with whether it is required."""
    async with app_state(request).db.connection() as conn:
        asked = await queries.questions_of(conn, event.id)
    found = [(f.header, f.mode(event) == REQUIRED) for f in FIELDS if f.mode(event) != HIDDEN]
    found.sort(key=lambda pair: pair[0] != "Email")  # the report's order: the address first
    return found + [(q.header, q.required) for q in asked]


async def _page(request: Request, event: Event, errors: dict[str, str], status: int = 200, **more: Any) -> Response:
    context = {
        "event": event,
        "errors": errors,
        "expected": await _expected(request, event),
        "not_imported": [(header, _(why)) for header, why in NOT_IMPORTED.items()],
        "open": imports.takes_imports(event),
        "most": importfile.megabytes(importfile.MAX_BYTES).replace(".0 ", " "),
        "imported": request.query_params.get("imported", ""),
        "emails": request.query_params.get("emails", ""),
        "plan": None,
    }
    return render(request, "admin/import.html", context | more, status)


def _preview(
    request: Request, event: Event, planned: Plan, token: str, table_kind: str, status: int = 200, **more: Any
) -> Response:
    shown = planned.to_import[:PREVIEW_MOST]
    context = {
        "event": event,
        "plan": planned,
        "token": token,
        "kind": table_kind,
        "counts": planned.counts(),
        "shown": shown,
        "not_shown": len(planned.to_import) - len(shown),
        "errors": {},
        "changed": False,
        "filename": "",
    }
    return render(request, "admin/import_preview.html", context | more, status)


async def _refused(request: Request, event: Event, message: str, status: int = 422) -> Response:
    """The upload form again, with why the file cannot be imported beside its field."""
    return await _page(request, event, {"file": message}, status)


async def import_form(request: Request) -> Response:
    """GET /admin/events/{event_id}/import: the upload form, and what the list's columns may be."""
    event = await staff_event(request)
    return await _page(request, event, {})


async def _read(request: Request, event: Event) -> FormData | Response:
    """The posted form, or the page saying the file is too large (looked at before anything is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_MOST:
        return await _refused(request, event, importfile.too_large(int(declared)), 413)
    try:
        return await read_form(request, max_files=1)
    except HTTPException as exc:
        if exc.status_code != 413:  # cut off while arriving without a declared length
            raise
        return await _refused(request, event, importfile.too_large(None), 413)


async def import_post(request: Request) -> Response:
    """POST /admin/events/{event_id}/import: `action` preview (with `file`), confirm (with `upload`, the token of
    the preview, and `emails`) or discard (with `upload`)."""
    event = await staff_event(request)
    form = await _read(request, event)
    if isinstance(form, Response):
        return form
    try:
        return await _act(request, event, form)
    finally:
        await form.close()  # the uploaded file's spool, at once


async def _act(request: Request, event: Event, form: FormData) -> Response:
    action = text(form, "action")
    if action not in ACTIONS:
        raise HTTPException(400, _("Unknown action."))
    if not imports.takes_imports(event):
        return await _page(request, event, {}, status=409)
    if action == "preview":
        return await _upload(request, event, form.get("file"))
    token = text(form, "upload")[:100]
    if action == "discard":
        await imports.discard(app_state(request).db, event, request.state.staff.id, token)
        return RedirectResponse(str(request.url_for("admin:import_form", event_id=event.id)), status_code=303)
    return await _confirm(request, event, token, text(form, "emails"))


async def _upload(request: Request, event: Event, file: object) -> Response:
    if not isinstance(file, UploadFile) or not file.filename:
        return await _refused(request, event, _("Choose the file with your list: a .csv or an .xlsx."))
    data = await file.read(importfile.MAX_BYTES + 1)
    if len(data) > importfile.MAX_BYTES:
        return await _refused(request, event, importfile.too_large(file.size or len(data)), 413)
    db = app_state(request).db
    try:
        table: Table = await asyncio.to_thread(importfile.read_table, data, file.filename)
        planned = await imports.preview(db, event, table)
    except FileRefused as refused:
        return await _refused(request, event, refused.message)
    digest = hashlib.sha256(data).hexdigest()
    token = await imports.keep(db, event, request.state.staff.id, table, digest, planned)
    return _preview(request, event, planned, token, table.kind, filename=file.filename[:200])


async def _confirm(request: Request, event: Event, token: str, emails: str) -> Response:
    state = app_state(request)
    staff_id = request.state.staff.id
    if emails not in (SEND, DONT_SEND):
        upload = await imports.kept(state.db, event, staff_id, token)
        if upload is None:
            return await _page(request, event, {"upload": _gone()}, status=409)
        planned = await imports.preview(state.db, event, upload.table())
        message = _("Choose whether the people imported get their e-mail now.")
        return _preview(request, event, planned, token, upload.table().kind, 422, errors={"emails": message})
    try:
        outcome = await imports.confirm(state.db, state.settings, event, _actor(request), token, emails == SEND)
    except FileRefused as refused:  # the event's questions changed since: the list no longer fits them
        await imports.discard(state.db, event, staff_id, token)
        return await _refused(request, event, refused.message, 409)
    if outcome.kind == imports.GONE:
        return await _page(request, event, {"upload": _gone()}, status=409)
    if outcome.kind == imports.CLOSED:
        return await _page(request, event, {}, status=409)
    if outcome.kind == imports.CHANGED:
        assert outcome.plan is not None
        return _preview(request, event, outcome.plan, token, "", 409, changed=True)
    total = sum((outcome.counts or {}).values())
    target = request.url_for("admin:import_form", event_id=event.id).include_query_params(
        imported=total, emails="sent" if emails == SEND else "not_sent"
    )
    return RedirectResponse(str(target), status_code=303)


def _gone() -> str:
    return _("This preview is no longer kept: it was imported, discarded, or is more than an hour old. Upload the "
             "file again.")  # fmt: skip
