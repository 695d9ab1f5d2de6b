"""The stream page in a real Chromium: a stream not live yet is retried, natively and by hls.js, until it plays."""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_watch_browser import eventually
from tests.webinar.access_helpers import join_path, load_event, on_now
from webinar.db import DB
from webinar.settings import PROJECT_ROOT

pytestmark = pytest.mark.browser

VIDEO = "document.getElementById('stream')"
SAMPLE = PROJECT_ROOT / "static" / "demo" / "stream"
TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mp4": "video/mp4", ".m4s": "video/iso.segment"}
# Make the browser believe it has no native HLS, so that the page takes the hls.js path.
NO_NATIVE_HLS = """
const canPlayType = HTMLMediaElement.prototype.canPlayType;
HTMLMediaElement.prototype.canPlayType = function (type) {
  return /mpegurl/i.test(type) ? "" : canPlayType.call(this, type);
};
"""


class Encoder:
    """An HTTPS origin like a streaming provider's: the demo sample under /live/, its playlist a 404 at first."""

    def __init__(self, certs: Path, missing: int) -> None:
        self.missing = missing  # how many requests for the playlist are answered 404 (the encoder not live yet)
        self.requests: list[tuple[str, int]] = []
        encoder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.split("?")[0].removeprefix("/live/")
                status, body = 404, b"not live yet"
                if name == "index.m3u8" and encoder.missing > 0:
                    encoder.missing -= 1
                elif "/" not in name and (SAMPLE / name).is_file() and Path(name).suffix in TYPES:
                    status, body = 200, (SAMPLE / name).read_bytes()
                encoder.requests.append((name, status))
                self.send_response(status)
                kind = TYPES[Path(name).suffix] if status == 200 else "text/plain"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", "*")  # hls.js fetches the playlist from the page
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs / "cert.pem", certs / "key.pem")
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/live/index.m3u8"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def playlist_statuses(self) -> list[int]:
        return [status for name, status in self.requests if name == "index.m3u8"]


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 (the page's CSP allows media from https: only)."""
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "key.pem", "-out", "cert.pem"),
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    return tmp_path


@pytest.fixture
def encoder(certs: Path) -> Iterator[Encoder]:
    running = Encoder(certs, missing=2)
    running.thread.start()
    try:
        yield running
    finally:
        running.httpd.shutdown()
        running.httpd.server_close()


@pytest.mark.parametrize("path", ["native", "hls.js"])
async def test_a_stream_that_is_not_live_yet_is_retried_until_it_plays(
    path: str, server: Server, browser: Any, encoder: Encoder, db: DB, settings, create_event, create_registration
) -> None:
    event = await load_event(db, await create_event(**on_now(stream_url=encoder.url, language="en")))
    reg = await create_registration(event.id)
    context = await browser.new_context(ignore_https_errors=True, locale="en-GB")
    if path == "hls.js":
        await context.add_init_script(NO_NATIVE_HLS)
    page = await context.new_page()
    await page.goto(server.base_url + join_path(settings, event, reg))
    player, status = page.locator("#player"), page.locator("#stream-status")
    native = await page.evaluate(f"Boolean({VIDEO}.canPlayType('application/vnd.apple.mpegurl'))")
    assert native is (path == "native")

    # The encoder is not live: the page says so, and when it tries again, counting down.
    await eventually(lambda: _is(player, "waiting"))
    text = await status.text_content()
    assert text is not None and text.startswith("The stream is not available yet") and "Trying again in" in text
    assert "{seconds}" not in text and encoder.playlist_statuses()[0] == 404

    # It goes live after two refusals: the page asks again (backoff 2 s, then 4 s), and plays.
    await eventually(lambda: _is(player, "playing"), within=30)
    assert encoder.playlist_statuses()[:3] == [404, 404, 200]
    assert await status.text_content() == ""
    assert await page.evaluate(f"{VIDEO}.readyState") >= 2
    assert await page.evaluate(f"{VIDEO}.videoWidth") == 320
    assert any(name.endswith(".m4s") and status == 200 for name, status in encoder.requests)
    await context.close()


async def _is(player: Any, state: str) -> bool:
    return await player.get_attribute("data-state") == state
