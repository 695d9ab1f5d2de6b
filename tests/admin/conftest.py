"""Fixtures of the back-office tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import login_staff


@pytest.fixture
async def importer(
    app: Any, create_organisation: Any, create_staff: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, int, Any]]:
    """An organiser's browser, their organisation and their account."""
    org_id = await create_organisation()
    user = await create_staff("organiser", org_id)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50004))
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    assert (await login_staff(http, user.email)).status_code == 303
    yield http, org_id, user
    await http.aclose()
