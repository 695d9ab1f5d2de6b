"""An event's e-mail texts through the real app and a real SMTP server: the organiser's words reach each registrant
in their language with the placeholders filled; every bad text is a 422 beside its field with nothing stored; text
that looks like a template language arrives as typed; reset, preview, a test send to oneself, and tenancy."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.admin.helpers import audit_entries, count
from tests.conftest import csrf_for, login_staff
from tests.webinar.regutil import open_form, person
from webinar.db import DB
from webinar.mail.sender import deliver_due
from webinar.registration.notifications import compose_queued
from webinar.tables import email_templates, outbox

RO_SUBJECT = "Te-ai înscris, {first_name}: {event_title}"
RO_BODY = (
    "Bună ziua, {first_name} {last_name},\n\n"
    "Ne vedem {starts_at} la {event_title}, organizat de {organisation}.\n"
    "Linkul tău personal: {join_link}\n\n"
    "Programul: https://exemplu.ro/program?zi=1&sala=2."
)
EN_SUBJECT = "See you soon, {first_name}"
EN_BODY = "Dear {first_name},\n\nYour link: {join_link}\n\nStarts {starts_at}."


@pytest.fixture
async def organiser(app: Any, create_organisation: Any, create_staff: Any) -> AsyncIterator[tuple[Any, int, str]]:
    """An organiser's browser, their organisation and their address."""
    org_id = await create_organisation(name="Societatea de Științe")
    user = await create_staff("organiser", org_id)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50004))
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    assert (await login_staff(http, user.email)).status_code == 303
    yield http, org_id, user.email
    await http.aclose()


async def _post(http: httpx.AsyncClient, event_id: int, **fields: str) -> httpx.Response:
    path = f"/admin/events/{event_id}/emails"
    return await http.post(path, data={**fields, "csrf_token": await csrf_for(http, path)})


async def _save(http: httpx.AsyncClient, event_id: int, kind: str, lang: str, subject: str, body: str) -> None:
    response = await _post(
        http, event_id, action="save", kind=kind, language=lang, subject=subject, body=body
    )  # fmt: skip
    assert response.status_code == 303, response.text[-3000:]
    assert response.headers["location"].endswith(f"kind={kind}&lang={lang}&done=saved")


async def _register(app: Any, slug: str, lang: str, **overrides: str) -> None:
    """A visitor (their own browser) reads the event page in `lang` and registers."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50100))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as visitor:
        await visitor.get(f"/events/{slug}?lang={lang}")
        hidden = await open_form(visitor, slug)
        response = await visitor.post(f"/events/{slug}/register", data={**person(**overrides), **hidden})
        assert response.status_code == 303, response.text[:500]


def _error(page: str, field: str) -> str:
    start = page.index(f'id="{field}-error">') + len(f'id="{field}-error">')
    return html.unescape(page[start : page.index("</p>", start)])


async def test_the_organisers_text_reaches_each_registrant_in_their_language(
    app, organiser, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    http, org_id, _email = organiser
    event_id = await create_event(organisation_id=org_id, slug="texte", title="Școala de vară", language="ro")
    await _save(http, event_id, "confirmation", "ro", RO_SUBJECT, RO_BODY)
    await _save(http, event_id, "confirmation", "en", EN_SUBJECT, EN_BODY)
    await _register(app, "texte", "ro", first_name="Ștefan", last_name="Țăran <b>", email="stefan@example.org")
    await _register(app, "texte", "en", first_name="Mary", last_name="Jones", email="mary@example.org")
    assert await deliver_due(smtp_settings, db, compose_queued) == 2

    by_address = {m.rcpt_tos[0]: m.message for m in smtp_server.messages}
    romanian = by_address["stefan@example.org"]
    assert romanian["Subject"] == "Te-ai înscris, Ștefan: Școala de vară"
    text = romanian.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Bună ziua, Ștefan Țăran <b>,\n\nNe vedem " in text and "la Școala de vară, organizat de Societatea" in text
    assert "(Europe/Bucharest)" in text  # the date, in the event's time zone and Romanian
    assert "http://testserver/events/texte/join/" in text  # the real, signed join link
    assert "Nota de informare și drepturile dumneavoastră: http://testserver/" in text  # our footer, in Romanian
    page = romanian.get_body(("html",)).get_content()
    assert "Țăran &lt;b&gt;" in page and "<b>" not in page
    assert '<a href="https://exemplu.ro/program?zi=1&amp;sala=2">' in page
    assert '<a href="http://testserver/events/texte/join/' in page
    parts = {p.get_content_type() for p in romanian.walk() if not p.is_multipart()}
    assert "text/calendar" in parts  # the invitation is still attached

    english = by_address["mary@example.org"]
    assert english["Subject"] == "See you soon, Mary"
    english_text = english.get_body(("plain",)).get_content()
    assert english_text.startswith("Dear Mary,") and "Privacy notice" in english_text


async def test_without_a_text_of_theirs_registrants_get_ours(
    app, organiser, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    http, org_id, _email = organiser
    event_id = await create_event(organisation_id=org_id, slug="implicit", language="ro")
    await _save(http, event_id, "confirmation", "en", EN_SUBJECT, EN_BODY)  # English only
    await _register(app, "implicit", "ro")
    await deliver_due(smtp_settings, db, compose_queued)
    [received] = smtp_server.messages
    assert received.message["Subject"].startswith("Sunteți înscris: ")  # our Romanian default


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("body", "Salut {prenume}, {join_link}", "{prenume}"),
        ("body", "Salut {first_name.__class__}, {join_link}", "{first_name.__class__}"),
        ("body", "Salut {0}, {join_link}", "{0}"),
        ("body", "{% for x in range(9) %}{join_link}{% endfor %}", "{% for x in range(9) %}"),
        ("subject", "Salut {nume}", "{nume}"),
        ("body", "Preț: 5 } lei {join_link}", "A lone brace"),
        ("body", "Salut {first_name}, {replay_link}", "{replay_link} has no value in the “Registration confirmed”"),
        ("body", "Salut {first_name}, ne vedem curând.", "must contain {join_link}"),
        ("subject", "x" * 301, "at most 300 characters"),
        ("subject", "Rând unu\nBcc: victim@example.org", "control characters"),
        ("body", "{join_link} " + "a" * 20_000, "at most 20000 characters"),
        ("subject", "", "required"),
    ],
)
async def test_a_bad_text_is_a_422_beside_its_field_and_nothing_is_stored(
    organiser, create_event, db: DB, field: str, value: str, named: str
) -> None:
    http, org_id, _email = organiser
    event_id = await create_event(organisation_id=org_id)
    fields = {"subject": "Bun venit", "body": "Linkul: {join_link}", field: value}
    response = await _post(http, event_id, action="save", kind="confirmation", language="ro", **fields)
    assert response.status_code == 422
    assert named in _error(response.text, field)
    assert 'aria-invalid="true"' in response.text
    assert await count(db, email_templates) == 0 and await audit_entries(db, "email_text.saved") == []
    # Nor is a preview or a test sent of such a text.
    for action in ("preview", "test"):
        again = await _post(http, event_id, action=action, kind="confirmation", language="ro", **fields)
        assert again.status_code == 422 and 'id="preview"' not in again.text
    assert await count(db, outbox) == 0


async def test_a_placeholder_with_no_value_in_a_rejection_is_refused(organiser, create_event, db: DB) -> None:
    http, org_id, _email = organiser
    event_id = await create_event(organisation_id=org_id)
    response = await _post(
        http, event_id, action="save", kind="rejected", language="en", subject="Sorry", body="Join: {join_link}"
    )
    assert response.status_code == 422
    assert _error(response.text, "body").startswith("{join_link} has no value in the “Registration rejected” e-mail.")
    assert await count(db, email_templates) == 0


async def test_template_language_is_sent_as_typed_never_evaluated(
    app, organiser, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    http, org_id, _email = organiser
    event_id = await create_event(organisation_id=org_id, slug="jinja", language="en")
    body = "{{ 7*7 }} {{ registration.email }} {{% raw %}} {join_link}"
    await _save(http, event_id, "confirmation", "en", "{{ config }} {first_name}", body)
    await _register(app, "jinja", "en")
    await deliver_due(smtp_settings, db, compose_queued)
    [received] = smtp_server.messages
    assert received.message["Subject"] == "{ config } Ștefan"
    text = received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("{ 7*7 } { registration.email } {% raw %} http://testserver/events/jinja/join/")
    assert "49" not in text.split("http")[0] and "stefan.popescu@example.org" not in text


async def test_the_editor_starts_from_our_text_and_reset_brings_it_back(
    app, organiser, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    http, org_id, email = organiser
    event_id = await create_event(organisation_id=org_id, slug="reset", language="ro", approval="manual")
    page = await http.get(f"/admin/events/{event_id}/emails?kind=pending&lang=ro")
    assert page.status_code == 200
    assert "Bună ziua, {first_name}," in html.unescape(page.text)  # our text, in placeholder form
    assert 'id="edit-pending-ro"' in page.text and "Reset to our default text" not in page.text

    await _save(http, event_id, "pending", "ro", "Primit: {event_title}", "Așteptați aprobarea, {first_name}.")
    page = await http.get(f"/admin/events/{event_id}/emails?kind=pending&lang=ro")
    assert "Așteptați aprobarea, {first_name}." in html.unescape(page.text)
    assert f"last saved by {email}" in page.text and "Reset to our default text" in page.text
    [saved] = await audit_entries(db, "email_text.saved")
    assert saved["kind"] == "received" and saved["language"] == "ro" and saved["_actor"] == email

    response = await _post(http, event_id, action="reset", kind="pending", language="ro")
    assert response.status_code == 303 and response.headers["location"].endswith("done=reset")
    assert await count(db, email_templates) == 0 and len(await audit_entries(db, "email_text.reset")) == 1
    await _register(app, "reset", "ro")
    await deliver_due(smtp_settings, db, compose_queued)
    [received] = smtp_server.messages
    assert received.message["Subject"].startswith("Înscriere primită")  # ours again


async def test_the_preview_fills_the_typed_text_for_a_sample_registrant(organiser, create_event, db: DB) -> None:
    http, org_id, _email = organiser
    event_id = await create_event(organisation_id=org_id, title="Curs & <atelier>", language="ro")
    shown = await http.get(f"/admin/events/{event_id}/emails?kind=confirmation&lang=ro")
    assert 'id="preview-html"' in shown.text and "Ioana" in shown.text  # our text, for the sample registrant

    response = await _post(
        http, event_id, action="preview", kind="confirmation", language="ro",
        subject="Salut {first_name}: {event_title}", body="Dragă {first_name} {last_name},\n\n{join_link}\n\n{{ 7*7 }}",
    )  # fmt: skip
    assert response.status_code == 200
    page = response.text
    assert '<span id="preview-subject">Salut Ioana: Curs &amp; &lt;atelier&gt;</span>' in page
    assert "<p>Dragă Ioana Popescu,</p>" in page and "{ 7*7 }" in page and "49" not in page.split('id="preview"')[1]
    assert "/join/sample-link" in page  # a sample link, not a signed one
    assert "Dragă {first_name} {last_name}," in html.unescape(page)  # the typed text stays in the form
    assert await count(db, email_templates) == 0  # a preview stores nothing

    english = await _post(
        http, event_id, action="preview", kind="waitlisted", language="en",
        subject="Waiting: {event_title}", body="Dear {first_name}, you are number {place}. Starts {starts_at}.",
    )  # fmt: skip
    assert "Dear Jane, you are number 3. Starts " in english.text and "(Europe/Bucharest)" in english.text


async def test_a_test_send_goes_to_the_staff_member_through_the_outbox(
    organiser, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    http, org_id, email = organiser
    event_id = await create_event(organisation_id=org_id, title="Atelier", language="ro")
    response = await _post(
        http, event_id, action="test", kind="approved", language="ro",
        subject="Aprobat: {event_title}", body="Bună, {first_name}! Intrați aici: {join_link}",
    )  # fmt: skip
    assert response.status_code == 200 and f"on its way to {email}" in response.text
    assert await count(db, email_templates) == 0  # the text is not saved by a test
    assert await deliver_due(smtp_settings, db, compose_queued) == 1
    [received] = smtp_server.messages
    assert received.rcpt_tos == [email]
    assert received.message["Subject"] == "[Test] Aprobat: Atelier"
    text = received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Bună, Ioana! Intrați aici: http://testserver/events/") and "sample-link" in text
    [sent] = await audit_entries(db, "email_text.test_sent")
    assert sent["to"] == email and sent["kind"] == "approved"


async def test_another_organisations_event_is_a_404_and_nothing_changes(
    organiser, create_event, create_organisation, db: DB
) -> None:
    http, _org_id, _email = organiser
    theirs = await create_event(organisation_id=await create_organisation())
    assert (await http.get(f"/admin/events/{theirs}/emails")).status_code == 404
    token = await csrf_for(http, "/admin/")
    for action in ("save", "reset", "test", "preview"):
        response = await http.post(
            f"/admin/events/{theirs}/emails",
            data={"csrf_token": token, "action": action, "kind": "confirmation", "language": "ro",
                  "subject": "x", "body": "{join_link}"},
        )  # fmt: skip
        assert response.status_code == 404
    assert await count(db, email_templates) == 0 and await count(db, outbox) == 0


async def test_an_unknown_kind_or_language_is_a_404(organiser, create_event) -> None:
    http, org_id, _email = organiser
    event_id = await create_event(organisation_id=org_id)
    for query in ("kind=already_registered", "kind=received", "lang=de", "kind=pending&lang=fr"):
        assert (await http.get(f"/admin/events/{event_id}/emails?{query}")).status_code == 404


async def test_purging_an_event_removes_its_texts(operator_client, create_event, db: DB) -> None:
    http = await operator_client()
    event_id = await create_event(slug="de-sters", language="ro")
    await _save(http, event_id, "rejected", "ro", "Ne pare rău", "Ne pare rău, {first_name}.")
    assert await count(db, email_templates) == 1
    response = await http.post(
        f"/admin/events/{event_id}/purge",
        data={"csrf_token": await csrf_for(http, f"/admin/events/{event_id}/purge"), "confirm_slug": "de-sters"},
    )
    assert response.status_code == 303, response.text[:500]
    async with db.connection() as conn:
        left = await conn.fetch_val(sa.select(sa.func.count()).select_from(email_templates))
    assert left == 0


async def test_an_erased_registrant_leaves_no_trace_of_an_email_written_from_the_organisers_text(
    app, organiser, create_event, db: DB, smtp_server, smtp_settings
) -> None:
    from tests.webinar.test_privacy_erasure import dump

    http, org_id, _email = organiser
    event_id = await create_event(organisation_id=org_id, slug="sterge", language="ro")
    await _save(
        http, event_id, "confirmation", "ro", "Salut {last_name}", "Dragă {first_name} {last_name}: {join_link}"
    )
    await _register(app, "sterge", "ro", first_name="Zamfira", last_name="Vlădescu", email="zamfira@example.org")
    await deliver_due(smtp_settings, db, compose_queued)
    assert smtp_server.messages[0].message["Subject"] == "Salut Vlădescu"
    assert "Zamfira" in await dump(db)  # the sent e-mail is kept in the queue, written from the organiser's text
    async with db.connection() as conn:
        reg_id = await conn.fetch_val(sa.text("SELECT id FROM registrations"))
    base = f"/admin/events/{event_id}/registrants/{reg_id}/erase"
    response = await http.post(base, data={"csrf_token": await csrf_for(http, base)})
    assert response.status_code == 303
    after = await dump(db)
    assert "Zamfira" not in after and "Vlădescu" not in after and "zamfira@example.org" not in after
    assert "Dragă {first_name} {last_name}: {join_link}" in after  # the organiser's text itself stays


async def test_a_promotion_on_an_event_with_approval_says_the_link_comes_later(organiser, create_event) -> None:
    http, org_id, _email = organiser
    sample = '<a href="http://testserver/events/promovare-auto/join/sample-link">'
    for approval, expected in (("manual", "(your personal join link will come once"), ("auto", sample)):
        event_id = await create_event(
            organisation_id=org_id, slug=f"promovare-{approval}", approval=approval, waitlist=True, capacity=10
        )
        response = await _post(
            http, event_id, action="preview", kind="promoted", language="en",
            subject="A seat for you", body="Dear {first_name}, your link: {join_link}",
        )  # fmt: skip
        assert response.status_code == 200
        preview = response.text.split('id="preview-html"')[1]
        assert f"Dear Jane, your link: {expected}" in preview
