"""Fixtures of the API tests: tokens, and a client that sends one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette

from webinar.api import tokens
from webinar.db import DB


@pytest.fixture
def create_token(db: DB) -> Callable[..., Awaitable[str]]:
    """Factory: `await create_token(org_id)` (None: a platform token) returns the token."""

    async def factory(organisation_id: int | None, name: str = "CRM") -> str:
        async with db.transaction() as conn:
            return await tokens.create(conn, organisation_id, name, actor="test")

    return factory


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_client(app: Starlette) -> Callable[[str], httpx.AsyncClient]:
    """`api_client(token)`: an HTTP client of the app that sends the token with every request."""

    def make(token: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50010))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1", headers=bearer(token))

    return make
