"""Languages: complete catalogues, proper Romanian, plural forms, and which language a page and an e-mail use."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.conftest import STAFF_PASSWORD, csrf_from
from tests.webinar.regutil import open_form, outbox_rows, person, registration_rows
from webinar import i18n
from webinar.accounts import staff
from webinar.db import DB
from webinar.mail.sender import deliver_due
from webinar.registration.notifications import compose_queued
from webinar.settings import Settings
from webinar.web.language import COOKIE_NAME

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[sd]")
CEDILLA = "şţŞŢ"  # the Turkish letters; Romanian ș ț Ș Ț have a comma below


def _catalogue(language: str) -> Catalog:
    with (i18n.LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=language)


def _extracted() -> dict[tuple[str | None, str], tuple[str, int]]:
    """Every translatable string in the code and templates, as `make messages` finds it (same babel.cfg)."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[tuple[str | None, str], tuple[str, int]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found[(context, msgid)] = (filename, lineno)
    return found


def test_extraction_finds_keyword_arguments_plurals_and_marked_words() -> None:
    found = _extracted()
    assert (None, "Organised by %(name)s") in found  # Jinja newstyle _() with a keyword argument
    assert (None, "%(num)s matching registrant.") in found  # Jinja ngettext
    assert (None, "Please use at most %(n)s character.") in found  # Python ngettext
    assert ("count", "watching now") in found  # npgettext
    assert (None, "Short text") in found  # N_() marks
    assert ("mail", "retrying") in found  # Jinja pgettext
    assert (None, "Wrong e-mail address or password.") in found  # i18n.gettext(...) in Python


def test_every_string_is_in_both_catalogues_and_translated_into_romanian() -> None:
    ro, en = _catalogue("ro"), _catalogue("en")
    problems = []
    for (context, msgid), (filename, lineno) in sorted(_extracted().items(), key=lambda item: str(item[0])):
        where = f"{filename}:{lineno}: {msgid!r}"
        if en.get(msgid, context) is None:
            problems.append(f"not in the en catalogue (run make messages): {where}")
        entry = ro.get(msgid, context)
        if entry is None:
            problems.append(f"not in the ro catalogue (run make messages): {where}")
            continue
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy or not all(forms):
            problems.append(f"untranslated or fuzzy in ro: {where}")
    assert not problems, "\n".join(problems)


def test_romanian_uses_comma_below_and_keeps_every_placeholder() -> None:
    ro = _catalogue("ro")
    assert ro.num_plurals == 3
    problems = []
    for entry in ro:
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        expected = set(PLACEHOLDER_RE.findall(ids[-1]))
        for form in forms:
            if any(ch in form for ch in CEDILLA):
                problems.append(f"cedilla instead of comma below: {form!r}")
            if form and set(PLACEHOLDER_RE.findall(form)) != expected:
                problems.append(f"placeholders differ: {ids[-1]!r} → {form!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("n", "romanian", "english"),
    [
        (1, "1 persoană găsită.", "1 matching registrant."),
        (2, "2 persoane găsite.", "2 matching registrants."),
        (19, "19 persoane găsite.", "19 matching registrants."),
        (20, "20 de persoane găsite.", "20 matching registrants."),
        (101, "101 persoane găsite.", "101 matching registrants."),
        (0, "0 persoane găsite.", "0 matching registrants."),
    ],
)
def test_romanian_has_three_plural_forms(n: int, romanian: str, english: str) -> None:
    singular, plural = "%(num)s matching registrant.", "%(num)s matching registrants."
    with i18n.use("ro"):
        assert i18n.ngettext(singular, plural, n) % {"num": n} == romanian
    with i18n.use("en"):
        assert i18n.ngettext(singular, plural, n) % {"num": n} == english


def test_use_restores_the_previous_language_and_dates_follow_the_locale() -> None:
    start = dt.datetime(2026, 3, 5, 12, 0, tzinfo=dt.UTC)
    with i18n.use("en"):
        with i18n.use("ro"):
            assert i18n.gettext("Register") == "Înscriere"
            assert i18n.local_datetime(start, "Europe/Bucharest", "event") == "joi, 5 martie 2026, 14:00"
        assert i18n.active() == "en" and i18n.gettext("Register") == "Register"
        assert i18n.local_datetime(start, "Europe/Bucharest", "event") == "Thursday, 5 March 2026, 14:00"
        with i18n.use("fr"):  # not one of ours: English
            assert i18n.active() == "en"


def test_one_unambiguous_date_format_in_both_languages() -> None:
    late = dt.datetime(2026, 12, 1, 22, 40, tzinfo=dt.UTC)  # 00:40 on 2 December in Bucharest
    expected = {
        "ro": ("2 dec. 2026, 00:40", "2 decembrie 2026", "00:40", "miercuri, 2 decembrie 2026, 00:40"),
        "en": ("2 Dec 2026, 00:40", "2 December 2026", "00:40", "Wednesday, 2 December 2026, 00:40"),
    }
    for language, formats in expected.items():
        with i18n.use(language):
            shown = tuple(
                i18n.local_datetime(late, "Europe/Bucharest", f) for f in ("datetime", "date", "time", "event")
            )
        assert shown == formats
    assert set(i18n.PATTERNS) == {"datetime", "seconds", "date", "time", "event"}


def _lang(html: str) -> str:
    match = re.search(r'<html lang="(\w+)">', html)
    assert match, html[:200]
    return match.group(1)


async def test_a_romanian_event_is_in_romanian_even_for_an_english_browser(
    client: httpx.AsyncClient, create_event: Any
) -> None:
    await create_event(slug="ro-event", language="ro")
    page = await client.get("/events/ro-event", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert page.status_code == 200 and _lang(page.text) == "ro"
    assert ">Înscriere<" in page.text and "Câmpurile marcate cu * sunt obligatorii." in page.text
    assert "Register" not in page.text
    assert COOKIE_NAME not in page.headers.get("set-cookie", "")  # nobody chose anything: no cookie
    assert "Accept-Language" in page.headers["vary"] and "Cookie" in page.headers["vary"]  # caches keep them apart


async def test_lang_switches_the_page_and_the_cookie_remembers_it(client: httpx.AsyncClient, create_event: Any) -> None:
    await create_event(slug="switch", language="ro")
    english = await client.get("/events/switch?lang=en")
    assert english.status_code == 200 and _lang(english.text) == "en" and ">Register<" in english.text
    cookie = english.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=en;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=31536000" in cookie and "Path=/" in cookie
    later = await client.get("/events/switch/login")  # no ?lang: the cookie decides
    assert _lang(later.text) == "en" and "Lost your join link?" in later.text
    assert "set-cookie" not in later.headers or COOKIE_NAME not in later.headers["set-cookie"]
    back = await client.get("/events/switch?lang=ro")
    assert _lang(back.text) == "ro" and back.headers["set-cookie"].startswith(f"{COOKIE_NAME}=ro;")


async def test_an_unknown_lang_is_ignored(client: httpx.AsyncClient, create_event: Any) -> None:
    await create_event(slug="unknown-lang", language="ro")
    page = await client.get("/events/unknown-lang?lang=fr%0d%0aSet-Cookie:x=1")
    assert page.status_code == 200 and _lang(page.text) == "ro"
    assert "set-cookie" not in page.headers or COOKIE_NAME not in page.headers["set-cookie"]


async def test_the_switcher_links_to_the_same_page_in_each_language(
    client: httpx.AsyncClient, create_event: Any
) -> None:
    await create_event(slug="links", language="ro")
    page = await client.get("/events/links/login?sent=1")
    links = re.findall(
        r'<a href="([^"]+)" hreflang="(\w+)" lang="(\w+)" title="[^"]+"( aria-current="true")?>', page.text
    )
    assert links == [
        ("/events/links/login?sent=1&amp;lang=ro", "ro", "ro", ' aria-current="true"'),
        ("/events/links/login?sent=1&amp;lang=en", "en", "en", ""),
    ]


async def test_the_home_page_follows_accept_language_then_english(client: httpx.AsyncClient) -> None:
    romanian = await client.get("/", headers={"Accept-Language": "ro-RO,ro;q=0.9,en;q=0.5"})
    assert _lang(romanian.text) == "ro" and "Webinarii viitoare" in romanian.text
    english = await client.get("/", headers={"Accept-Language": "de-DE,en;q=0.4"})
    assert _lang(english.text) == "en" and "Upcoming webinars" in english.text
    assert _lang((await client.get("/", headers={"Accept-Language": "fr"})).text) == "en"
    missing = await client.get("/no-such-page", headers={"Accept-Language": "ro"})
    assert missing.status_code == 404 and "Pagina nu a fost găsită" in missing.text


async def test_form_errors_are_in_the_page_language_and_nothing_is_stored(
    client: httpx.AsyncClient, create_event: Any, db: DB
) -> None:
    await create_event(slug="errors-ro", language="ro")
    hidden = await open_form(client, "errors-ro")
    response = await client.post("/events/errors-ro/register", data={**person(email=""), **hidden})
    assert response.status_code == 422 and _lang(response.text) == "ro"
    assert "Vă rugăm să introduceți adresa de e-mail." in response.text
    assert await registration_rows(db) == []


async def test_the_confirmation_e_mail_of_a_romanian_event_is_romanian(
    client: httpx.AsyncClient, create_event: Any, db: DB, smtp_server: Any, smtp_settings: Any
) -> None:
    await create_event(slug="mail-ro", language="ro", title="Conferința de toamnă", doors_open_minutes=30)
    hidden = await open_form(client, "mail-ro")
    response = await client.post("/events/mail-ro/register", data={**person(), **hidden})
    assert response.status_code == 303
    [reg] = await registration_rows(db)
    assert reg["language"] == "ro"
    assert await deliver_due(smtp_settings, db, compose_queued) == 1
    [received] = smtp_server.messages
    message = received.message
    assert message["Subject"] == "Sunteți înscris: Conferința de toamnă"
    parts = {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}
    text, html = parts["text/plain"].get_content(), parts["text/html"].get_content()
    for body in (text, html):
        assert "Pagina transmisiunii se deschide cu 30 de minute înainte de început." in body
        assert "You are registered" not in body and "minutes" not in body
    assert re.search(r"(luni|marți|miercuri|joi|vineri|sâmbătă|duminică), \d{1,2} \w+ \d{4}, \d{2}:\d{2}", text)
    assert 'lang="ro"' in html
    calendar = parts["text/calendar"].get_content().replace("\r\n ", "")
    assert "Linkul personal de acces" in calendar


async def test_an_attendee_who_chose_english_gets_english_e_mail(
    client: httpx.AsyncClient, create_event: Any, db: DB, settings: Settings
) -> None:
    await create_event(slug="mail-en", language="ro", title="Conferința de iarnă")
    page = await client.get("/events/mail-en?lang=en")
    hidden = {"csrf_token": csrf_from(page.text), "consent_version": "1"}
    response = await client.post("/events/mail-en/register", data={**person(), **hidden})
    assert response.status_code == 303
    [reg] = await registration_rows(db)
    assert reg["language"] == "en"
    [row] = await outbox_rows(db, settings)
    assert row["subject"] == "You are registered: Conferința de iarnă"
    assert "The stream page opens 30 minutes before the start." in row["body_text"]
    registered = await client.get("/events/mail-en/registered")
    assert _lang(registered.text) == "en" and "Thank you for registering" in registered.text


async def test_staff_choose_the_language_of_the_back_office(operator_client: Any, create_event: Any, db: DB) -> None:
    http = await operator_client()
    assert ">Events<" in (await http.get("/admin/")).text
    token = csrf_from((await http.get("/admin/")).text)
    response = await http.post(
        "/admin/account/language", data={"csrf_token": token, "language": "ro", "next": "/admin/"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/admin/"
    dashboard = await http.get("/admin/", headers={"Accept-Language": "en"})
    assert _lang(dashboard.text) == "ro" and ">Evenimente<" in dashboard.text
    elsewhere = await http.post(
        "/admin/account/language", data={"csrf_token": token, "language": "en", "next": "https://evil.example/"}
    )
    assert elsewhere.headers["location"] == "/admin/"  # never a redirect off the back office
    assert _lang((await http.get("/admin/")).text) == "en"


async def test_staff_keep_the_language_they_logged_in_with(
    client: httpx.AsyncClient, create_staff: Any, create_event: Any, db: DB
) -> None:
    user = await create_staff("operator")
    start = dt.datetime(2030, 12, 1, 22, 40, tzinfo=dt.UTC)  # 00:40 on 2 December in Bucharest
    await create_event(title="Seminarul de iarnă", starts_at=start, ends_at=start + dt.timedelta(hours=2))
    client.headers["accept-language"] = "ro-RO,ro;q=0.9"
    page = await client.get("/admin/login")
    assert _lang(page.text) == "ro" and 'name="language" value="ro"' in page.text
    form = {"email": user.email, "password": STAFF_PASSWORD, "language": "ro", "csrf_token": csrf_from(page.text)}
    assert (await client.post("/admin/login", data=form)).status_code == 303
    del client.headers["accept-language"]  # the account keeps it now, whatever the browser says
    dashboard = await client.get("/admin/", headers={"accept-language": "en"})
    assert _lang(dashboard.text) == "ro" and "2 dec. 2030, 00:40" in dashboard.text
    assert not re.search(r"\d+/\d+/\d+|\b[AP]M\b", dashboard.text)
    async with db.connection() as conn:
        assert (await staff.by_id(conn, user.id)).language == "ro"
    # Logging in from the English page (the switcher) makes the back office English, with the same kind of date.
    await client.post("/admin/logout", data={"csrf_token": csrf_from(dashboard.text)})
    page = await client.get("/admin/login?lang=en")
    form |= {"language": "en", "csrf_token": csrf_from(page.text)}
    assert (await client.post("/admin/login", data=form)).status_code == 303
    dashboard = await client.get("/admin/")
    assert _lang(dashboard.text) == "en" and "2 Dec 2030, 00:40" in dashboard.text


async def test_a_forged_login_language_is_ignored(client: httpx.AsyncClient, create_staff: Any, db: DB) -> None:
    user = await create_staff("operator")
    page = await client.get("/admin/login")
    form = {"email": user.email, "password": STAFF_PASSWORD, "language": "xx", "csrf_token": csrf_from(page.text)}
    assert (await client.post("/admin/login", data=form)).status_code == 303
    async with db.connection() as conn:
        assert (await staff.by_id(conn, user.id)).language == "en"
