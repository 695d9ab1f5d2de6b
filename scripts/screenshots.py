"""The README's screenshots of the back office, taken on a scratch instance with the demo data by a real Chromium.

    .venv/bin/python scripts/screenshots.py [NAME ...]     (default: every one; writes docs/screenshots/NAME.png)

Each shot is a function that drives the logged-in operator's page to what it shows; add one to SHOTS.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit import DEMO_SLUG, ROOT, start_instance  # the scratch instance `make audit` uses too

CHROMIUM = "/usr/bin/chromium"
OUT = ROOT / "docs" / "screenshots"
BODY = """Bună ziua, {first_name} {last_name},

Înscrierea dumneavoastră la {event_title} este confirmată. Vă așteptăm {starts_at}.

Linkul dumneavoastră personal (nu îl transmiteți altora, vă autentifică):
{join_link}

Programul complet: https://exemplu.ro/program

Cu drag,
Echipa {organisation}"""


async def _demo_event_id(page: Any, base: str) -> str:
    await page.goto(f"{base}/admin/")
    hrefs = await page.eval_on_selector_all("a[href*='/admin/events/']", "links => links.map(a => a.href)")
    ids = [found.group(1) for href in hrefs if (found := re.search(r"/admin/events/(\d+)$", href))]
    return ids[0]


async def admin_email_texts(page: Any, base: str) -> None:
    """The e-mail text editor: the Romanian confirmation written by the organiser, and its preview."""
    event_id = await _demo_event_id(page, base)
    await page.goto(f"{base}/admin/events/{event_id}/emails?kind=confirmation&lang=ro")
    await page.fill("#subject", "Ne vedem la {event_title}, {first_name}!")
    await page.fill("#body", BODY)
    await page.click("button[value=preview]")
    await page.wait_for_selector("#preview-html")


QUESTIONS = (
    ("choice", "Specialitatea", "Specialty", "Medicină de familie\nCardiologie\nPediatrie\nAltă specialitate", True),
    ("multichoice", "Ce subiecte vă interesează?", "Which topics interest you?", "Diabet\nHipertensiune\nVaccinare",
     False),
    ("number", "Ani de practică", "Years in practice", "", False),
    ("date", "Data ultimei acreditări", "Date of your last accreditation", "", False),
)  # fmt: skip


async def question_editor(page: Any, base: str) -> None:
    """The custom questions of the demo event: four of them added through the editor, as an organiser would."""
    event_id = await _demo_event_id(page, base)
    for kind, label_ro, label_en, options, required in QUESTIONS:
        await page.goto(f"{base}/admin/events/{event_id}/questions")
        await page.select_option("select[name=kind]", kind)
        await page.fill("input[name=label_ro]", label_ro)
        await page.fill("input[name=label_en]", label_en)
        if options:
            await page.fill("textarea[name=options]", options)
        await page.set_checked("input[name=required]", required)
        await page.locator("form.stacked button[type=submit]").click()
        await page.wait_for_load_state()
    await page.goto(f"{base}/admin/events/{event_id}/questions")


SHOTS: dict[str, Callable[[Any, str], Awaitable[None]]] = {
    "admin-email-texts": admin_email_texts,
    "question-editor": question_editor,
}


async def take(names: list[str]) -> None:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as scratch:
        server, base, _env = start_instance(Path(scratch))
        try:
            email, password = (Path(scratch) / "demo-login.txt").read_text().split()
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
                await page.goto(f"{base}/admin/login")
                await page.fill("#email", email)
                await page.fill("#password", password)
                await page.press("#password", "Enter")
                await page.wait_for_url(f"{base}/admin/")
                for name in names:
                    await SHOTS[name](page, base)
                    await page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                    print(f"docs/screenshots/{name}.png ({DEMO_SLUG})")
                await browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(take(sys.argv[1:] or list(SHOTS)))
