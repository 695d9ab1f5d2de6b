"""The audit log page: exports and logins listed, filters, paging; organisers see only their organisation's entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.conftest import login_staff
from webinar import audit
from webinar.db import DB


@asynccontextmanager
async def logged_in(app: Any, email: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of its own, logged in as this staff member."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await login_staff(http, email)).status_code == 303
        yield http


async def test_audit_lists_exports_and_scopes_organisers(
    app: Any, create_organisation: Any, create_event: Any, create_staff: Any
) -> None:
    mine, theirs = await create_organisation(), await create_organisation()
    my_event = await create_event(organisation_id=mine, title="Evenimentul meu")
    their_event = await create_event(organisation_id=theirs, title="Evenimentul lor")
    me = await create_staff("organiser", mine)
    other = await create_staff("organiser", theirs)
    operator = await create_staff("operator")
    async with logged_in(app, me.email) as http_me, logged_in(app, other.email) as http_other:
        assert (await http_me.get(f"/admin/events/{my_event}/reports/registered.csv")).status_code == 200
        assert (await http_other.get(f"/admin/events/{their_event}/reports/active.xlsx")).status_code == 200
        page = await http_me.get("/admin/audit")
        assert page.status_code == 200
        assert "report.exported" in page.text and "rows: 0" in page.text
        assert "report: <code>registered</code>" in page.text
        assert "Evenimentul meu" in page.text and me.email in page.text
        assert "Evenimentul lor" not in page.text and other.email not in page.text and "report: active" not in page.text
        # Filtering by the other organisation's event shows nothing of it either.
        filtered = await http_me.get("/admin/audit", params={"event": their_event})
        assert other.email not in filtered.text and "report: active" not in filtered.text
    async with logged_in(app, operator.email) as http_op:
        everything = await http_op.get("/admin/audit")
        assert me.email in everything.text and other.email in everything.text
        assert "staff.login" in everything.text
        only_exports = await http_op.get("/admin/audit", params={"action": "report.exported", "event": their_event})
        assert "report: <code>active</code>" in only_exports.text
        assert "report: <code>registered</code>" not in only_exports.text
        assert "<code>staff.login</code>" not in only_exports.text


async def test_audit_pages_and_bad_page_means_first(app: Any, db: DB, create_staff: Any) -> None:
    operator = await create_staff("operator")
    async with db.transaction() as conn:
        for i in range(60):
            await audit.record(conn, "event.updated", actor=f"bot-{i:02d}@example.org")
    async with logged_in(app, operator.email) as http:
        first = await http.get("/admin/audit", params={"action": "event.updated"})
        assert "Page 1 of 2" in first.text and "bot-59@example.org" in first.text and "bot-00@" not in first.text
        second = await http.get("/admin/audit", params={"action": "event.updated", "page": "2"})
        assert "bot-00@example.org" in second.text and "bot-59@" not in second.text
        assert '/admin/audit?action=event.updated&amp;page=1"' in second.text
        for bad in ("-1", "abc", "0"):
            response = await http.get("/admin/audit", params={"page": bad, "action": "event.updated"})
            assert response.status_code == 200 and "Page 1 of 2" in response.text, bad
        nav = await http.get("/admin/")
        assert '/admin/audit"' in nav.text
