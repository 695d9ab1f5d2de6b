"""docs/nginx.conf, run for real in front of two app processes: pages, X-Forwarded-For, body limit, WebSocket."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.reliability.conftest import Platform, eventually, free_port
from tests.webinar.access_helpers import join_path, load_event, on_now, sessions_of
from tests.webinar.regutil import open_form, person, registration_rows
from webinar.db import DB
from webinar.settings import PROJECT_ROOT, Settings
from webinar.web.cookies import COOKIE_NAME

CONFIG = PROJECT_ROOT / "docs" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ATTENDEE = "127.0.0.2"  # the visitor's own address: loopback, but not nginx's


def adapt(config: str, port: int, upstreams: list[int], tmp: Path) -> str:
    """The documented configuration with loopback addresses instead of the production ones, as a whole nginx.conf."""
    [upstream_block] = re.findall(r"upstream webinar_app \{.*?\n\}", config, flags=re.S)
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=2 fail_timeout=5s;\n" for p in upstreams)
    adapted = re.sub(r"(    server \S+:8000 [^\n]*\n)+", servers, upstream_block)
    config = config.replace(upstream_block, adapted)
    config, listens = re.subn(r"listen 443 ssl http2;", f"listen 127.0.0.1:{port};", config)
    config, certificates = re.subn(r"\n\s*ssl_certificate(_key)? [^\n]*;", "", config)
    config, redirects = re.subn(r"\nserver \{\n    listen 80;.*?\n\}\n", "\n", config, flags=re.S)
    assert (listens, certificates, redirects) == (1, 2, 1), "docs/nginx.conf changed shape: update adapt()"
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log info;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n    access_log {tmp}/access.log;\n    client_body_temp_path {tmp}/body;\n"
        f"    proxy_temp_path {tmp}/proxy;\n    fastcgi_temp_path {tmp}/fastcgi;\n    uwsgi_temp_path {tmp}/uwsgi;\n"
        f"    scgi_temp_path {tmp}/scgi;\n{config}\n}}\n"
    )


@pytest.fixture
def nginx_binary() -> str:
    if not Path(NGINX).exists():
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed in CI (.ci/run installs nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return NGINX


class Nginx:
    def __init__(self, binary: str, tmp: Path, port: int) -> None:
        self.binary, self.tmp, self.port = binary, tmp, port
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, upstreams: list[int]) -> None:
        self.tmp.mkdir(exist_ok=True)
        conf = self.tmp / "nginx.conf"
        conf.write_text(adapt(CONFIG.read_text(), self.port, upstreams, self.tmp))
        test = subprocess.run(
            [self.binary, "-t", "-c", str(conf), "-p", str(self.tmp), "-e", str(self.tmp / "error.log")],
            capture_output=True,
            text=True,
        )
        assert test.returncode == 0, test.stderr
        command = [self.binary, "-c", str(conf), "-p", str(self.tmp), "-e", str(self.tmp / "error.log")]
        self.process = subprocess.Popen([*command, "-g", "daemon off;"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base_url}/healthz", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError((self.tmp / "error.log").read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def nginx(nginx_binary: str, tmp_path: Path) -> Iterator[Nginx]:
    running = Nginx(nginx_binary, tmp_path / "nginx", free_port())
    try:
        yield running
    finally:
        running.stop()


def test_the_deployment_guide_points_at_the_tested_file() -> None:
    guide = (PROJECT_ROOT / "docs" / "deploy.md").read_text()
    assert "(nginx.conf)" in guide and "```nginx" not in guide  # one copy of the configuration, the tested one


async def test_documented_nginx_in_front_of_two_app_processes(
    nginx: Nginx,
    platform: Platform,
    settings: Settings,
    db: DB,
    create_event: Callable[..., Awaitable[int]],
    create_registration: Callable[..., Awaitable[int]],
) -> None:
    event = await load_event(db, await create_event(**on_now(slug="proxied")))
    env = {"TRUSTED_PROXIES": "127.0.0.1", "BASE_URL": nginx.base_url, "WEBINAR_BACKGROUND": "false"}
    apps = [platform.serve("a", **env), platform.serve("b", **env)]
    nginx.start([app.port for app in apps if app.port])
    visitor = httpx.AsyncHTTPTransport(local_address=ATTENDEE)
    async with httpx.AsyncClient(base_url=nginx.base_url, transport=visitor) as http:
        page = await http.get("/events/proxied")
        assert page.status_code == 200 and event.title in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")

        # Registration through the proxy; a spoofed X-Forwarded-For from the visitor is not believed.
        hidden = await open_form(http, "proxied")
        spoofed = {"X-Forwarded-For": "6.6.6.6"}
        done = await http.post("/events/proxied/register", data={**person(), **hidden}, headers=spoofed)
        assert done.status_code == 303 and done.headers["location"].startswith(nginx.base_url)
        [registration] = await registration_rows(db)

        too_big = await http.post("/events/proxied/register", content=b"x" * (2 * 1024 * 1024))
        assert too_big.status_code == 413 and "nginx" in too_big.text
        assert len(await registration_rows(db)) == 1

        reg = await create_registration(event.id)
        assert (await http.get(join_path(settings, event, reg), headers=spoofed)).status_code == 303
        cookie = http.cookies.get(COOKIE_NAME)
    from webinar.tables import consent_records

    async with db.connection() as conn:
        consent_ips = {row["ip"] for row in await conn.fetch_all(consent_records.select())}
    assert consent_ips == {ATTENDEE} and registration["email"] == person()["email"]

    async with websockets.connect(
        f"ws://127.0.0.1:{nginx.port}/events/proxied/presence",
        additional_headers={"Origin": nginx.base_url, "Cookie": f"{COOKIE_NAME}={cookie}", **spoofed},
        local_addr=(ATTENDEE, 0),
    ) as socket:
        hello = json.loads(await socket.recv())
        assert hello["type"] == "open"
        await socket.send(json.dumps({"type": "heartbeat", "session": hello["session"]}))
        [session] = await eventually(lambda: sessions_of(db, reg))
        assert session["ip"] == ATTENDEE  # the forwarded address, not nginx's 127.0.0.1
        await socket.send(json.dumps({"type": "leave"}))
    [left] = await eventually(lambda: _ended(db, reg))
    assert left["end_reason"] == "left"


async def _ended(db: DB, reg: int) -> list | None:
    rows = await sessions_of(db, reg)
    return rows if rows and rows[0]["ended_at"] is not None else None
