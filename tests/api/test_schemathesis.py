"""The API against its own OpenAPI document: schemathesis drives a real `webinar serve` (uvicorn) with positive and
negative data on every operation; no answer may be a 500 or differ from the document. Also: the document is OpenAPI
3.1 made from the code, and the docs page lists every operation."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, stop, wait_healthy
from webinar.api.routes import OPERATIONS
from webinar.clock import now
from webinar.settings import PROJECT_ROOT, Settings
from webinar.tables import webhook_subscriptions

SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]
EXAMPLES = "6"  # per operation and phase: the whole run stays well under a minute per engine


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """`webinar serve` on the test database, without background jobs; its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "BASE_URL")}
    env |= {
        "DATABASE_URL": settings.database_url, "SECRET_KEY": str(settings.secret_key),
        "BASE_URL": f"http://127.0.0.1:{port}", "WEBINAR_VAR_DIR": str(tmp_path / "var"), "WEBINAR_BACKGROUND": "false",
        "RATE_LIMIT_SCALE": "1000", "MAIL_BACKEND": "console",
    }  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "webinar.cli", "serve", "--port", str(port)],
            env=env, cwd=PROJECT_ROOT, stdout=out, stderr=out,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(process, base, 30, "serve", lambda: log.read_text(errors="replace")[-3000:])
        yield base
    finally:
        stop(process, grace=10)
        assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-5000:]


async def test_every_operation_answers_as_its_document_says(
    served, create_organisation, create_event, create_registration, create_viewing_session, create_token, db
):
    org_id = await create_organisation()
    event_id = await create_event(organisation_id=org_id)
    reg_id = await create_registration(event_id, status="pending")
    await create_viewing_session(event_id, reg_id, now() - dt.timedelta(minutes=5))
    async with db.transaction() as conn:
        await conn.execute(
            webhook_subscriptions.insert().values(
                organisation_id=org_id, url="https://example.org/h", events=",registration.created,",
                secret="whsec_eA==", created_at=now(),
            )
        )  # fmt: skip
    token = await create_token(org_id)
    run = subprocess.run(  # noqa: ASYNC221 - the server is another process; this test only waits for the verdict
        [
            *SCHEMATHESIS, "run", f"{served}/api/v1/openapi.json", "--header", f"Authorization: Bearer {token}",
            "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--mode", "all",
            "--max-examples", EXAMPLES, "--seed", "20", "--generation-database", "none", "--workers", "1",
            "--phases", "examples,coverage,fuzzing", "--request-timeout", "20", "--no-color",
        ],
        capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]


async def test_the_document_is_openapi_31_from_the_code_and_the_docs_page_lists_it(client: httpx.AsyncClient):
    document = (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    described = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert described == {(op.method, op.path) for op in OPERATIONS}
    page = await client.get("/api/v1/docs")
    assert page.status_code == 200
    for op in OPERATIONS:
        assert f"{op.method} /api/v1{op.path}" in page.text
