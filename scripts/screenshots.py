"""The README's screenshots of the back office, taken on a scratch instance with the demo data by a real Chromium.

    .venv/bin/python scripts/screenshots.py [NAME ...]     (default: every one; writes docs/screenshots/NAME.png)

Each shot is a function that drives the logged-in operator's page to what it shows; add one to SHOTS.
"""

from __future__ import annotations

import asyncio
import io
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


JOIN_RE = re.compile(r"https?://[^\s<>\"]+/join/[\w.\-]+")


async def watch(page: Any, base: str) -> None:
    """The stream page of the demo event playing its own sample: registered through the form, joined by the link
    of the confirmation e-mail (read in the mail queue), in a second browser with no staff session."""
    attendee = await page.context.browser.new_page(viewport={"width": 1280, "height": 900}, locale="ro-RO")
    await attendee.goto(f"{base}/events/{DEMO_SLUG}")
    for name, value in (("first_name", "Ioana"), ("last_name", "Marinescu"), ("email", "ioana@exemplu.ro")):
        await attendee.fill(f"input[name={name}]", value)
    for name in ("consent_processing", "age_confirmed"):
        await attendee.check(f"input[name={name}]")
    await attendee.locator("form button[type=submit]").last.click()
    await attendee.wait_for_url(re.compile(r".*/registered"))
    link = None
    for _ in range(50):  # the sender writes the e-mail within a second or two
        await page.goto(f"{base}/admin/outbox")
        await page.locator("table a").first.click()
        if found := JOIN_RE.search(await page.content()):
            link = found.group(0)
            break
        await asyncio.sleep(0.2)
    assert link, "no join link in the mail queue"
    await attendee.goto(link)
    await attendee.wait_for_function("document.getElementById('player').dataset.state === 'playing'", timeout=20000)
    await asyncio.sleep(2)  # a few frames in
    await attendee.screenshot(path=str(OUT / "watch.png"), full_page=True)
    await attendee.close()
    await page.goto(f"{base}/events/{DEMO_SLUG}/watch")  # what take() shoots: replaced by the attendee's shot


async def admin_traffic(page: Any, base: str) -> None:
    """The demo event's traffic page, with the viewing of the `watch` shot (zoomed to it)."""
    event_id = await _demo_event_id(page, base)
    await page.goto(f"{base}/admin/events/{event_id}/traffic")


async def event_page(page: Any, base: str) -> None:
    """The demo event's public page, in Romanian: its times, the form, "already registered?"."""
    await page.goto(f"{base}/events/{DEMO_SLUG}?lang=ro")


def _demo_logo() -> bytes:
    """A made-up organisation's logo, drawn here (no one else's mark): a green disc and the name, 120 pixels high."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(ROOT / "static" / "fonts" / "DejaVuSans-Bold.ttf"), 40)
    name = "Organizația Demo"
    logo = Image.new("RGBA", (132 + round(font.getlength(name)) + 8, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    draw.ellipse((8, 8, 112, 112), fill=(11, 110, 79, 255))
    draw.polygon([(46, 36), (46, 84), (86, 60)], fill=(255, 255, 255, 255))
    draw.text((132, 36), name, font=font, fill=(11, 110, 79, 255))
    out = io.BytesIO()
    logo.save(out, "PNG")
    return out.getvalue()


async def admin_branding(page: Any, base: str) -> None:
    """The demo organisation's branding page, after a logo upload and a colour (docs/branding.md)."""
    await page.goto(f"{base}/admin/organisations")
    await page.click("a[href$='/branding']")
    await page.set_input_files("#logo", {"name": "logo.png", "mimeType": "image/png", "buffer": _demo_logo()})
    await page.click("form[action$='/branding/logo'] button[type=submit]")
    await page.wait_for_selector(".notice.ok")
    await page.fill("#accent_colour", "#0b6e4f")
    await page.click("form[action$='/branding/colour'] button[type=submit]")
    await page.wait_for_selector(".notice.ok")


async def event_page_branded(page: Any, base: str) -> None:
    """The demo event's page in its organisation's branding (after `admin-branding`)."""
    await page.goto(f"{base}/events/{DEMO_SLUG}?lang=ro")


async def admin_dashboard(page: Any, base: str) -> None:
    """The operator's dashboard: the demo event and its figures."""
    await page.goto(f"{base}/admin/")


SHOTS: dict[str, Callable[[Any, str], Awaitable[None]]] = {
    "admin-email-texts": admin_email_texts,
    "question-editor": question_editor,
    "admin-dashboard": admin_dashboard,
    "event-page": event_page,
    "watch": watch,
    "admin-traffic": admin_traffic,
    "admin-branding": admin_branding,  # after the unbranded shots: the demo organisation keeps its branding
    "event-page-branded": event_page_branded,
}
OWN_SHOT = {"watch"}  # shots that save their own picture (of another page than `page`)


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
                    if name not in OWN_SHOT:
                        await page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                    print(f"docs/screenshots/{name}.png ({DEMO_SLUG})")
                await browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(take(sys.argv[1:] or list(SHOTS)))
