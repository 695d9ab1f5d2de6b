"""End-to-end fixtures: the platform served by a real uvicorn process on SQLite or PostgreSQL, and Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.servers import crash, free_port, stop, wait_healthy
from webinar.settings import PROJECT_ROOT, Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Short presence timings so that a killed server's session is swept in seconds, not 90 s.
PRESENCE_TIMEOUT = 6
HEARTBEAT = 2
CHECK_SECONDS = 5  # the answer window of a presence check (60 s in life)


class Server:
    """One `uvicorn` process serving the app on a free port; started, killed and restarted by tests."""

    def __init__(self, database_url: str, secret: str, var_dir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = var_dir / "server.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": secret,
            "BASE_URL": self.base_url,
            "WEBINAR_VAR_DIR": str(var_dir),
            "MAIL_BACKEND": "console",
            "PRESENCE_TIMEOUT_SECONDS": str(PRESENCE_TIMEOUT),
            "HEARTBEAT_SECONDS": str(HEARTBEAT),
            "PRESENCE_CHECK_SECONDS": str(CHECK_SECONDS),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def migrate(self) -> None:
        subprocess.run(
            [str(Path(sys.executable).parent / "webinar"), "migrate"],
            env=self.env,
            check=True,
            capture_output=True,
            cwd=PROJECT_ROOT,
        )

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "webinar.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.env, cwd=PROJECT_ROOT, stdout=log, stderr=log)
        wait_healthy(self.process, self.base_url, 20, "server", lambda: self.log.read_text()[-2000:])

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to open WebSockets (a crash)."""
        assert self.process is not None
        crash(self.process)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, grace=10)
        self.process = None


@pytest.fixture
def server(database_url: str, settings: Settings, tmp_path: Path) -> Iterator[Server]:
    """The platform on the test's database (SQLite file or emptied PostgreSQL), migrated, served by uvicorn."""
    running = Server(database_url, str(settings.secret_key), tmp_path / "server-var")
    (tmp_path / "server-var").mkdir()
    running.migrate()
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is not installed in CI (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[object]:
    """Debian's Chromium, headless, driven by Playwright (which must never download a browser of its own)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
