"""No English on a Romanian page: every page and every registrant e-mail, rendered in Romanian, is read word by word.

The English words looked for are those of our own source strings that no Romanian translation uses (so the list
follows the catalogue), plus the marks of Python values leaking into a page (None, True, ['a', 'b']).
"""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po

from tests.admin.test_guard import EXPECTED_PUBLIC, admin_cases, values, walk  # noqa: F401 (values: a fixture)
from tests.conftest import csrf_for
from tests.webinar.access_helpers import join, load_event
from webinar import audit, i18n
from webinar.clock import now
from webinar.mail.render import Mailer
from webinar.mail.texts import EmailText
from webinar.registration import notifications
from webinar.registration import queries as registration_queries
from webinar.tables import UNCONFIRMED, consent_records, events
from webinar.web.language import COOKIE_NAME

WORD = re.compile(r"[A-Za-zĂÂÎȘȚăâîșț]+(?:'[a-z]+)?")
# Not words of a language: addresses, links, paths, placeholders, dotted identifiers (an audit action: staff.login),
# snake_case names of code (a cookie's name: webinar_session), header names.
NOISE = re.compile(
    r"\S+@\S+|https?://\S+|/[\w./{}%-]*|\{[a-z_]+\}|\b[a-z_]+(?:\.[a-z_]+)+\b|\b[a-z]+(?:_[a-z]+)+\b|\b[A-Z][a-z]*-ID\b"
)
PYTHON = re.compile(r"\bNone\b|\bTrue\b|\bFalse\b|\[['\"]|\[\]|\{['\"]")
# Words our English strings share with Romanian pages on purpose: names, units, formats, the language switcher.
ALLOWED = {
    "webinar", "email", "link", "cookie", "cookies", "online", "English", "Română", "HLS", "CSV", "XLSX", "PDF",
    "JSON", "SMTP", "UTC", "ID", "IP", "GDPR", "URL", "ICS", "QR", "Google", "Outlook", "Safari", "Chromium", "OK",
    "Europe", "Bucharest", "DejaVu", "Sans", "utf", "iframe", "The",
}  # fmt: skip
ALLOWED.discard("The")  # kept out: "The" leaking into a sentence is the commonest case


def _catalogue(language: str) -> Any:
    with (i18n.LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=language)


def _words(text: str) -> set[str]:
    return {w for w in WORD.findall(NOISE.sub(" ", text)) if len(w) >= 3}


def _english_only() -> set[str]:
    """Words of our English source strings that no Romanian translation contains (case-folded)."""
    english, romanian = set(), set()
    for message in _catalogue("ro"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strs = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in ids:
            english |= {w.casefold() for w in _words(re.sub(r"%\(\w+\)[sd]", " ", text))}
        for text in strs:
            romanian |= {w.casefold() for w in _words(text or "")}
    return english - romanian - {w.casefold() for w in ALLOWED}


ENGLISH = _english_only()


class Visible(HTMLParser):
    """The text a person reads or hears on a page: text nodes, and the labels, hints and messages in attributes."""

    SKIPPED = frozenset(
        {"script", "style", "code", "pre", "textarea"}
    )  # code: identifiers (actions); textarea: user text
    SPOKEN = frozenset({"title", "aria-label", "placeholder", "alt"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        for name, value in attrs:
            if value and (name in self.SPOKEN or name.startswith("data-msg-")):
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = Visible()
    parser.feed(html)
    return "\n".join(parser.parts)


def english_in(text: str) -> list[str]:
    """The English words and Python marks in a Romanian text, each with the line it is on."""
    found = []
    for line in text.splitlines():
        words = sorted(w for w in _words(line) if w.casefold() in ENGLISH)
        marks = PYTHON.findall(line)
        if words or marks:
            found.append(f"{[*words, *marks]} in {line.strip()[:160]!r}")
    return found


def test_the_word_list_is_english_and_spares_romanian() -> None:
    assert {"the", "from", "your", "given", "processing", "none", "starts"} <= ENGLISH
    assert not {"eveniment", "pentru", "transmisiunea", "operator", "webinar", "email"} & ENGLISH
    assert english_in("Administrată de the platform operator.") != []
    assert english_in("from: None; to: None") != [] and english_in("emails: ['a@b.ro', 'c@d.ro']") != []
    assert english_in("Evenimentul începe la 2 dec. 2026, 00:40 (Europe/Bucharest).") == []


async def _romanian_event(db, create_event, create_registration, **extra: Any) -> tuple[Any, int]:
    event = await load_event(db, await create_event(language="ro", **extra))
    reg = await create_registration(event.id, language="ro")
    return event, reg


async def test_every_public_page_of_a_romanian_event_is_romanian(
    app, client: httpx.AsyncClient, db, settings, create_event, create_registration
) -> None:
    event, reg = await _romanian_event(db, create_event, create_registration, doors_open_minutes=30)
    async with db.transaction() as conn:  # what /me lists: the person's consents, each said in words
        at = now()
        for purpose, action in [
            ("processing", "given"),
            ("marketing", "given"),
            ("age", "given"),
            ("marketing", "withdrawn"),
        ]:
            await conn.execute(
                consent_records.insert().values(
                    registration_id=reg, event_id=event.id, purpose=purpose, action=action, recorded_at=at
                )
            )
    client.headers["accept-language"] = "en-GB,en"  # an English browser: the event's language wins
    client.cookies.set(COOKIE_NAME, "ro")  # for the home page, which has no event
    pages = ["/", f"/events/{event.slug}", f"/events/{event.slug}/privacy", f"/events/{event.slug}/login"]
    pages += [f"/events/{event.slug}/{path}" for path in ("registered", "embed", "embed/registered")]
    found = {path: english_in(visible_text((await client.get(path)).text)) for path in pages}
    await join(client, settings, event, reg)
    texts = {}
    for path in ("me", "watch", "me/cancel", "me/erase"):  # watch: the waiting page, the doors are not open yet
        response = await client.get(f"/events/{event.slug}/{path}")
        assert response.status_code == 200, path
        found[path] = english_in(visible_text(response.text))
        texts[path] = visible_text(response.text)
    assert {path: words for path, words in found.items() if words} == {}
    privacy = visible_text((await client.get(f"/events/{event.slug}/privacy")).text)
    assert "administrată de operatorul platformei" in privacy and privacy.count("un al doilea cookie") == 1
    assert "ați fost de acord cu prelucrarea datelor dumneavoastră pentru acest eveniment" in texts["me"]
    assert "Transmisiunea se deschide cu 30 de minute înainte de început" in texts["watch"]


async def test_every_back_office_page_is_romanian_for_staff_who_chose_it(
    app,
    client: httpx.AsyncClient,
    db,
    operator_client,
    values,  # noqa: F811 (the fixture imported above)
) -> None:
    async with db.connection() as conn:  # a Romanian event: its e-mail previews are Romanian
        await conn.execute(events.update().where(events.c.id == values["event_id"]).values(language="ro"))
    http = await operator_client()
    token = await csrf_for(http, "/admin/")
    assert (await http.post("/admin/account/language", data={"language": "ro", "csrf_token": token})).status_code == 303
    http.cookies.set(COOKIE_NAME, "ro")
    async with db.transaction() as conn:  # entries with the values the log must show readably
        details = {"from": None, "to": "approved", "changed": ["title", "starts_at"], "emails": ["a@b.ro", "c@d.ro"]}
        await audit.record(conn, "registration.status", actor="x@b.ro", event_id=values["event_id"], details=details)
        await audit.record(conn, "event.updated", actor="x@b.ro", details={"completed": True, "status": "waitlisted"})
    found = {}
    for case in admin_cases(app, values):
        if (
            case.method != "GET"
            or case.name in EXPECTED_PUBLIC
            or case.path.endswith((".csv", ".xlsx", ".pdf", ".zip"))
        ):
            continue
        response = await http.get(case.path)
        if response.status_code != 200 or not response.headers["content-type"].startswith("text/html"):
            continue
        found[case.path] = english_in(visible_text(response.text))
    assert len(found) > 15
    log = (await http.get("/admin/audit")).text
    assert "din: —; în: aprobată; câmpuri schimbate: <code>title, starts_at</code>; e-mailuri: a@b.ro, c@d.ro" in log
    assert "încheiat: da; stare: pe lista de așteptare" in log
    assert {path: words for path, words in found.items() if words} == {}


@pytest.mark.parametrize("kind", notifications.KINDS)
async def test_every_registrant_e_mail_is_romanian(
    kind: str, app, db, settings, create_event, create_registration
) -> None:
    event, reg_id = await _romanian_event(db, create_event, create_registration, replay_url="https://r.example/v")
    mailer: Mailer = app.state.mailer
    async with db.connection() as conn:
        reg = await registration_queries.by_id(conn, event.id, reg_id)
    assert reg is not None
    if kind == "confirm_registration":  # sent only while the registration waits for its address to be confirmed
        reg = dataclasses.replace(reg, status=UNCONFIRMED)
    written = None
    if kind == "message":  # staff's message to the registrants is always their own text (registration/messages.py)
        written = EmailText(event.id, kind, "", "Sala s-a schimbat, {first_name}", "Linkul: {join_link}", "", now())
    composed = notifications.compose(mailer, kind, event, reg, "Organizația Demo", place=3, written=written)
    found = english_in(composed.subject) + english_in(composed.text) + english_in(visible_text(composed.html))
    assert found == []
