"""Make the README's screenshots: a scratch platform with the demo data, driven by Chromium through Playwright.

`python scripts/screenshots.py [NAME ...]` (the venv's Python) writes docs/screenshots/NAME.png for each page named
(all of them by default). The platform runs on a SQLite file in a temporary directory, so nothing of yours is
touched; the pages are filled through the forms, as an organiser would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.servers import free_port, stop, wait_healthy  # noqa: E402

QUESTIONS = (
    ("choice", "Specialitatea", "Specialty", "Medicină de familie\nCardiologie\nPediatrie\nAltă specialitate", True),
    ("multichoice", "Ce subiecte vă interesează?", "Which topics interest you?", "Diabet\nHipertensiune\nVaccinare",
     False),
    ("number", "Ani de practică", "Years in practice", "", False),
    ("date", "Data ultimei acreditări", "Date of your last accreditation", "", False),
)  # fmt: skip


def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/?$"))


def _demo_event_id(page: Page, base: str) -> int:
    page.goto(f"{base}/admin/")
    href = page.locator("a[href*='/admin/events/']").first.get_attribute("href") or ""
    return int(re.search(r"/admin/events/(\d+)", href).group(1))  # type: ignore[union-attr]


def question_editor(page: Page, base: str) -> None:
    """The custom questions of the demo event, four of them added through the editor."""
    event_id = _demo_event_id(page, base)
    for kind, label_ro, label_en, options, required in QUESTIONS:
        page.goto(f"{base}/admin/events/{event_id}/questions")
        page.select_option("select[name=kind]", kind)
        page.fill("input[name=label_ro]", label_ro)
        page.fill("input[name=label_en]", label_en)
        if options:
            page.fill("textarea[name=options]", options)
        page.set_checked("input[name=required]", required)
        page.locator("form.stacked button[type=submit]").click()
        page.wait_for_load_state()
    page.goto(f"{base}/admin/events/{event_id}/questions")


SHOTS: dict[str, Callable[[Page, str], None]] = {"question-editor": question_editor}


def main(names: list[str]) -> int:
    unknown = set(names) - set(SHOTS)
    if unknown:
        print(f"unknown: {', '.join(sorted(unknown))}; known: {', '.join(SHOTS)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = os.environ | {
            "DATABASE_URL": f"sqlite:///{tmp}/shots.db", "SECRET_KEY": "screenshots-" + "x" * 40, "BASE_URL": base,
            "WEBINAR_VAR_DIR": tmp, "MAIL_BACKEND": "console"
        }  # fmt: skip
        webinar = [sys.executable, "-m", "webinar.cli"]  # this checkout's code, not whichever is installed
        subprocess.run([*webinar, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
        subprocess.run([*webinar, "demo"], env=env, cwd=ROOT, check=True, capture_output=True)
        email, password = (Path(tmp) / "demo-login.txt").read_text().split()
        log = open(Path(tmp) / "server.log", "wb")
        server = subprocess.Popen([*webinar, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log)
        try:
            wait_healthy(server, base, 20, "server", lambda: (Path(tmp) / "server.log").read_text()[-2000:])
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ro-RO")
                _sign_in(page, base, email, password)
                for name in names or list(SHOTS):
                    SHOTS[name](page, base)
                    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                    print(f"docs/screenshots/{name}.png")
                browser.close()
        finally:
            stop(server, 10)
            log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
