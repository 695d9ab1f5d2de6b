"""Fault-test fixtures: PostgreSQL only, the platform as real processes, and an SMTP server that can be down."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.conftest import TRUNCATE, SMTPRecorder
from tests.servers import crash, free_port, stop, wait_healthy
from webinar.settings import PROJECT_ROOT, Settings

# The environment a process of ours must not inherit from the developer's shell.
SCRUBBED = ("DATABASE_URL", "SECRET_KEY", "HTTPS_ONLY", "TRUSTED_PROXIES", "BASE_URL", "MAIL_BACKEND", "SMTP_PORT")


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 15.0, every: float = 0.2) -> Any:
    """Poll until `check()` returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s (last: {result!r})")
        await asyncio.sleep(every)


@pytest.fixture
def database_url(pg_url: str) -> str:
    """Fault tests run on PostgreSQL only (the production engine); the shared test database, emptied."""

    async def empty() -> None:
        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute(f"TRUNCATE {TRUNCATE} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    asyncio.run(empty())
    return pg_url


class Process:
    """One `webinar` (or uvicorn) process with its own log file; started, killed and restarted by tests."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path, port: int | None) -> None:
        self.name, self.args, self.env, self.port = name, args, env, port
        self.log = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> Process:
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, *self.args], env=self.env, cwd=PROJECT_ROOT, stdout=log, stderr=log
            )
        if wait and self.port is not None:
            self.wait_ready()
        return self

    def wait_ready(self, within: float = 30.0) -> None:
        assert self.popen is not None
        wait_healthy(self.popen, self.base_url, within, self.name, self.tail)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to open connections (a crash)."""
        assert self.popen is not None
        crash(self.popen)
        self.popen = None

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it lingers; the exit code."""
        if self.popen is None:
            return None
        code, self.popen = stop(self.popen, grace=25), None
        return code


class Platform:
    """Builds the processes of one deployment (serve, worker) sharing a database and a secret key."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings, self.log_dir = settings, log_dir
        self.processes: list[Process] = []

    def env(self, port: int | None, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        env.update(
            DATABASE_URL=self.settings.database_url,
            SECRET_KEY=str(self.settings.secret_key),
            BASE_URL=f"http://127.0.0.1:{port}" if port else "http://127.0.0.1",
            WEBINAR_VAR_DIR=str(self.log_dir / "var"),
            MAIL_BACKEND="console",
            MAIL_FROM="Webinar <no-reply@webinar.test>",
        )
        env.update(extra)
        return env

    def serve(self, name: str, *options: str, start: bool = True, **extra: str) -> Process:
        """`webinar serve` on a free port (`options` such as "--workers", "2"; `extra` environment)."""
        port = free_port()
        args = ["-m", "webinar.cli", "serve", "--port", str(port), *options]
        process = Process(name, args, self.env(port, **extra), self.log_dir, port)
        self.processes.append(process)
        return process.start() if start else process

    def worker(self, name: str, **extra: str) -> Process:
        """`webinar worker`: the background loops alone."""
        process = Process(name, ["-m", "webinar.cli", "worker"], self.env(None, **extra), self.log_dir, None)
        self.processes.append(process)
        return process.start()

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()


@pytest.fixture
def platform(settings: Settings, tmp_path: Path) -> Iterator[Platform]:
    """Real processes of the platform on the test database; all stopped at the end of the test."""
    log_dir = tmp_path / "processes"
    log_dir.mkdir()
    running = Platform(settings, log_dir)
    try:
        yield running
    finally:
        running.stop_all()


class CountingRecorder(SMTPRecorder):
    """The shared SMTP recorder, also counting the transactions it refused."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_with:
            self.refused += 1
        return await super().handle_DATA(server, session, envelope)


class FlakySMTP:
    """A real aiosmtpd server on a fixed loopback port that can be down (connection refused), refusing, or up."""

    def __init__(self) -> None:
        self.host, self.port = "127.0.0.1", free_port()
        self.handler = CountingRecorder()
        self.controller: Any = None

    @property
    def messages(self) -> list[Any]:
        return self.handler.messages

    def up(self) -> None:
        from aiosmtpd.controller import Controller

        if self.controller is None:
            self.controller = Controller(self.handler, hostname=self.host, port=self.port)
            self.controller.start()

    def down(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def env(self) -> dict[str, str]:
        """The environment pointing a process at this server."""
        return {"MAIL_BACKEND": "smtp", "SMTP_HOST": self.host, "SMTP_PORT": str(self.port)}


@pytest.fixture
def flaky_smtp() -> Iterator[FlakySMTP]:
    """An SMTP server that starts down; `up()`, `down()` and `handler.refuse_with` drive it."""
    server = FlakySMTP()
    try:
        yield server
    finally:
        server.down()
