"""Who may see reports: the event's organiser and operators; another organisation's organiser gets 404 everywhere."""

from __future__ import annotations

import httpx
import pytest

from tests.reports.conftest import Setup, StaffClient

PATHS = [
    "reports/registered.csv", "reports/registered.xlsx", "reports/active.csv", "reports/active.xlsx",
    "reports/traffic.csv", "reports/traffic.xlsx", "reports/traffic.csv?from=2026-11-22T12:00&sep=semicolon",
    "traffic", "traffic?page=2",
]  # fmt: skip


async def test_organiser_of_another_organisation_gets_404_everywhere(
    setup: Setup, staff_client: StaffClient, create_organisation: object
) -> None:
    other_org = await create_organisation()  # type: ignore[operator]
    http = await staff_client("organiser", other_org)
    for path in [*PATHS, "reports/traffic.csv?from=bad"]:
        response = await http.get(f"/admin/events/{setup.event_id}/{path}")
        assert response.status_code == 404, path
        assert "raport-stiinta" not in response.text


@pytest.mark.parametrize("role", ["organiser", "operator"])
async def test_own_organiser_and_operator_may_export(setup: Setup, staff_client: StaffClient, role: str) -> None:
    http = await staff_client(role, setup.organisation_id if role == "organiser" else None)
    for path in PATHS:
        assert (await http.get(f"/admin/events/{setup.event_id}/{path}")).status_code == 200, path


async def test_anonymous_is_sent_to_login(setup: Setup, client: httpx.AsyncClient) -> None:
    for path in PATHS:
        response = await client.get(f"/admin/events/{setup.event_id}/{path}")
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("http://testserver/admin/login")
    assert (await client.get("/admin/audit")).status_code == 303


async def test_unknown_event_is_404(staff_client: StaffClient) -> None:
    http = await staff_client("operator")
    for path in ("/admin/events/999999/traffic", "/admin/events/999999/reports/registered.csv",
                 "/admin/events/99999999999999999999/traffic"):  # fmt: skip
        assert (await http.get(path)).status_code == 404, path
