"""The privacy notice and the attendee's own data: see, correct (with a confirmed new address), download."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from tests.conftest import csrf_for
from tests.webinar.access_helpers import join_path, load_event
from tests.webinar.privacy_helpers import audit_actions, mails_to, register_and_join, registration
from webinar.clock import now
from webinar.links.tokens import make_email_change_token


async def test_privacy_notice_names_controller_processor_retention_rights_and_cookies(
    client, db, create_organisation, create_event
):
    org = await create_organisation(name="Asociația Medicilor", contact_email="dpo@medici.example.ro")
    event = await load_event(
        db,
        await create_event(
            organisation_id=org,
            language="en",
            retention_days=45,
            embed_url="https://player.vimeo.com/video/1",
            stream_url="",
        ),
    )
    page = await client.get(f"/events/{event.slug}/privacy")
    assert page.status_code == 200
    text = page.text
    assert "Asociația Medicilor" in text and "dpo@medici.example.ro" in text
    assert "the platform operator" in text  # settings.processor_name
    assert "6(1)(a)" in text and "ANSPDCP" in text and "45" in text
    assert f'/events/{event.slug}/me"' in text and f'/events/{event.slug}/login"' in text
    assert "webinar_session" in text and "webinar_lang" in text and "player.vimeo.com" in text
    form = await client.get(f"/events/{event.slug}")
    assert f'href="http://testserver/events/{event.slug}/privacy"' in form.text


async def test_privacy_notice_of_an_unknown_event_is_404(client):
    assert (await client.get("/events/no-such-event/privacy")).status_code == 404


async def test_every_registrant_email_links_the_privacy_notice(client, db, settings, create_event):
    event, _reg = await register_and_join(client, db, settings, await create_event(language="en"))
    [mail] = await mails_to(db, "stefan.popescu@example.org", settings)
    notice = f"http://testserver/events/{event.slug}/privacy"
    assert notice in mail["body_text"] and notice in mail["body_html"]
    token = await csrf_for(client, f"/events/{event.slug}/login")
    await client.post(
        f"/events/{event.slug}/send-link", data={"email": "stefan.popescu@example.org", "csrf_token": token}
    )
    link_mail = (await mails_to(db, "stefan.popescu@example.org", settings))[-1]
    assert link_mail["kind"] == "join_link" and notice in link_mail["body_text"] and notice in link_mail["body_html"]


async def test_me_without_a_session_goes_to_the_login_page(client, db, create_event):
    event = await load_event(db, await create_event(language="en"))
    for path in ("me", "me/export.json", "me/erase"):
        response = await client.get(f"/events/{event.slug}/{path}")
        assert response.status_code == 303
        assert urlsplit(response.headers["location"]).path == f"/events/{event.slug}/login"


async def test_me_shows_the_data_and_a_session_of_another_event_does_not_count(client, db, settings, create_event):
    event, _reg = await register_and_join(client, db, settings, await create_event(language="en"), phone=None)
    page = await client.get(f"/events/{event.slug}/me")
    assert page.status_code == 200
    assert "stefan.popescu@example.org" in page.text and "Ștefan" in page.text and "Institutul de Fizică" in page.text
    assert page.headers["cache-control"] == "no-store"
    other = await load_event(db, await create_event(language="en"))
    assert (await client.get(f"/events/{other.slug}/me")).status_code == 303


async def test_export_holds_registration_consents_with_their_text_sessions_and_emails(
    client, db, settings, create_event, create_viewing_session
):
    event, reg = await register_and_join(
        client, db, settings, await create_event(language="en"), consent_marketing="on"
    )
    await create_viewing_session(event.id, reg, now(), ip="192.0.2.9")
    response = await client.get(f"/events/{event.slug}/me/export.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    data = json.loads(response.text)
    assert data["registration"]["email"] == "stefan.popescu@example.org"
    assert "password_hash" not in json.dumps(data)
    consents = {c["purpose"]: c for c in data["consents"]}
    assert set(consents) == {"processing", "marketing", "age"}
    assert consents["processing"]["text"] and consents["processing"]["text_version"] == 1
    assert consents["processing"]["ip"] == "127.0.0.1"
    assert [s["ip"] for s in data["viewing_sessions"]] == ["192.0.2.9"]
    assert data["emails"][0]["kind"] == "confirmation" and data["emails"][0]["status"] == "queued"
    assert data["controller"]["contact_email"].startswith("dpo-")
    assert [a["action"] for a in await audit_actions(db, reg)][-1] == "registration.exported"


async def test_correction_is_saved_with_the_registration_rules(client, db, settings, create_event):
    event, reg = await register_and_join(client, db, settings, await create_event(language="en"))
    token = await csrf_for(client, f"/events/{event.slug}/me")
    data = {
        "csrf_token": token,
        "first_name": " Ştefana ",
        "last_name": "Ionescu",
        "email": "Stefan.Popescu@example.org",
        "job_title": "",
        "organisation": "ICF",
    }
    response = await client.post(f"/events/{event.slug}/me", data=data)
    assert response.status_code == 303 and response.headers["location"].endswith("/me?saved=1")
    row = await registration(db, reg)
    assert (row["first_name"], row["last_name"], row["job_title"], row["organisation"]) == (
        "Ştefana",
        "Ionescu",
        None,
        "ICF",
    )
    assert row["email"] == "Stefan.Popescu@example.org" and "ionescu" in row["search_text"]
    assert row["marketing_opt_in"] is False
    assert [a["action"] for a in await audit_actions(db, reg)][-1] == "registration.corrected"


async def test_a_correction_breaking_a_rule_is_a_422_and_changes_nothing(client, db, settings, create_event):
    event, reg = await register_and_join(
        client, db, settings, await create_event(language="en", field_phone="required"), phone="+40 721 000 111"
    )
    token = await csrf_for(client, f"/events/{event.slug}/me")
    before = await registration(db, reg)
    for bad in ({"first_name": ""}, {"email": "not-an-address"}, {"phone": "12"}, {"last_name": "Pop\x00escu"}):
        data = {
            "csrf_token": token,
            "first_name": "Ana",
            "last_name": "Pop",
            "email": "ana@example.org",
            "phone": "+40 721 000 111",
            **bad,
        }
        response = await client.post(f"/events/{event.slug}/me", data=data)
        assert response.status_code == 422, bad
        # A NUL is refused for every form before validation (webinar.web.forms); the rest beside the field.
        assert any("\x00" in v for v in bad.values()) or 'class="error"' in response.text
    assert await registration(db, reg) == before
    no_csrf = await client.post(
        f"/events/{event.slug}/me", data={"first_name": "X", "last_name": "Y", "email": "a@b.ro"}
    )
    assert no_csrf.status_code == 403 and await registration(db, reg) == before


async def test_a_new_address_applies_only_once_confirmed_from_its_mailbox(client, db, settings, create_event):
    event, reg = await register_and_join(client, db, settings, await create_event(language="en"))
    old_join = join_path(settings, event, reg)
    token = await csrf_for(client, f"/events/{event.slug}/me")
    data = {"csrf_token": token, "first_name": "Ștefan", "last_name": "Popescu", "email": "nou@example.org"}
    response = await client.post(f"/events/{event.slug}/me", data=data)
    assert response.headers["location"].endswith("?saved=email")
    assert (await registration(db, reg))["email"] == "stefan.popescu@example.org"  # not yet
    [mail] = await mails_to(db, "nou@example.org")
    assert mail["kind"] == "confirm_email"
    link = next(w for w in mail["body_text"].split() if "/me/confirm-email/" in w)
    confirmed = await client.get(urlsplit(link).path)
    assert confirmed.status_code == 200
    row = await registration(db, reg)
    assert row["email"] == "nou@example.org" and row["email_normalised"] == "nou@example.org"
    assert (await client.get(old_join)).status_code == 400  # the old mailbox's join link is revoked
    assert [m["kind"] for m in await mails_to(db, "nou@example.org")] == ["confirm_email", "confirmation"]
    reused = await client.get(urlsplit(link).path)
    assert reused.status_code == 400 and "cannot be used" in reused.text


async def test_a_new_address_taken_meanwhile_is_refused_at_confirmation(
    client, db, settings, create_event, create_registration
):
    event, reg = await register_and_join(client, db, settings, await create_event(language="en"))
    await create_registration(event.id, email="taken@example.org")
    row = await registration(db, reg)
    token = make_email_change_token(
        str(settings.secret_key), reg, row["token_version"], "TAKEN@example.org", now().replace(year=now().year + 1)
    )
    response = await client.get(f"/events/{event.slug}/me/confirm-email/{token}")
    assert response.status_code == 409
    assert (await registration(db, reg))["email"] == "stefan.popescu@example.org"
    tampered = await client.get(f"/events/{event.slug}/me/confirm-email/{token[:-3]}abc")
    assert tampered.status_code == 400


async def test_asking_for_an_address_someone_else_registered_sends_nothing_but_answers_the_same(
    client, db, settings, create_event, create_registration
):
    event, _reg = await register_and_join(client, db, settings, await create_event(language="en"))
    await create_registration(event.id, email="taken@example.org")
    token = await csrf_for(client, f"/events/{event.slug}/me")
    data = {"csrf_token": token, "first_name": "Ștefan", "last_name": "Popescu", "email": "taken@example.org"}
    response = await client.post(f"/events/{event.slug}/me", data=data)
    assert response.status_code == 303 and response.headers["location"].endswith("?saved=email")
    assert await mails_to(db, "taken@example.org") == []


async def test_marketing_choice_on_me_is_recorded_as_consent(client, db, settings, create_event):
    event, reg = await register_and_join(
        client, db, settings, await create_event(language="en"), consent_marketing="on"
    )
    token = await csrf_for(client, f"/events/{event.slug}/me")
    data = {"csrf_token": token, "first_name": "Ștefan", "last_name": "Popescu", "email": "stefan.popescu@example.org"}
    await client.post(f"/events/{event.slug}/me", data=data)
    assert (await registration(db, reg))["marketing_opt_in"] is False
    export = json.loads((await client.get(f"/events/{event.slug}/me/export.json")).text)
    marketing = [(c["action"]) for c in export["consents"] if c["purpose"] == "marketing"]
    assert marketing == ["given", "withdrawn"]
