"""Proof of work for busy addresses (SPEC §15), through the real app on both engines: the first registrations from an
address pass as before; past the soft threshold each needs a solved ALTCHA challenge, good once, for its event and
form, unexpired and signed by us; the hard ceiling stays; the challenge endpoint is cheap; the same for the login
page's two forms."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from altcha.v1 import Challenge, ChallengeOptions, Payload, create_challenge, solve_challenge

from tests.conftest import csrf_for, csrf_from
from tests.webinar.access_helpers import load_event, on_now
from tests.webinar.moved_clock import MovedClock
from tests.webinar.regutil import counts, open_form, outbox_rows, person
from webinar.accounts.passwords import hash_password
from webinar.clock import now
from webinar.db import DB
from webinar.registration import services as registration_services
from webinar.settings import Settings
from webinar.tables import proof_solutions, rate_limits
from webinar.web.proof import Loads, Tuning

THRESHOLD = 3
WIDGET = "<altcha-widget"
NEEDED = "so your browser must do a short automatic check first"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A low threshold and easy challenges, so that the tests solve them in Python in a moment."""
    return settings.with_overrides(pow_threshold=THRESHOLD, pow_base_number=200, pow_doubling=2, pow_max_number=3200)


async def fetch_challenge(client: httpx.AsyncClient, slug: str, form: str = "register") -> dict[str, Any]:
    response = await client.get(f"/events/{slug}/challenge/{form}")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store" and "set-cookie" not in response.headers
    return dict(response.json())


def solve(challenge: dict[str, Any]) -> str:
    """What the widget posts as `altcha` once it has solved `challenge`."""
    issued = Challenge(
        challenge["algorithm"],
        challenge["challenge"],
        challenge["maxNumber"],
        challenge["salt"],
        challenge["signature"],
    )
    solution = solve_challenge(issued.challenge, issued.salt, issued.algorithm, issued.max_number, 0)
    assert solution is not None
    payload = Payload(issued.algorithm, issued.challenge, solution.number, issued.salt, issued.signature)
    return payload.to_base64()


async def solved(client: httpx.AsyncClient, slug: str, form: str = "register") -> str:
    return solve(await fetch_challenge(client, slug, form))


async def fill_up(client: httpx.AsyncClient, slug: str, hidden: dict[str, str], n: int = THRESHOLD) -> None:
    """`n` registrations from this address, none of which needs a proof."""
    for i in range(n):
        response = await client.post(
            f"/events/{slug}/register", data={**person(email=f"first{i}@example.org"), **hidden}
        )
        assert response.status_code == 303, response.text[:500]


async def spent(db: DB) -> int:
    async with db.connection() as conn:
        return int(await conn.fetch_val(sa.select(sa.func.count()).select_from(proof_solutions)))


async def test_the_first_registrations_pass_then_the_form_asks_for_a_proof_and_takes_it(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="busy")
    page = await client.get("/events/busy")
    assert WIDGET not in page.text and "altcha.js" not in page.text  # nobody below the threshold sees it
    hidden = await open_form(client, "busy")
    await fill_up(client, "busy", hidden)
    before = await counts(db)
    page = await client.get("/events/busy")
    assert WIDGET in page.text and 'challengeurl="http://testserver/events/busy/challenge/register"' in page.text
    assert "/static/vendor/altcha/altcha.js" in page.text and "<noscript>" in page.text  # what to do without JS
    assert "I am not a robot" in page.text  # our labels, through the widget's `strings`

    refused = await client.post("/events/busy/register", data={**person(email="late@example.org"), **hidden})
    assert refused.status_code == 422 and NEEDED in refused.text and WIDGET in refused.text
    assert 'value="late@example.org"' in refused.text  # what was typed is kept
    assert await counts(db) == before and before[0] == THRESHOLD  # nothing more stored, no e-mail queued

    data = {**person(email="late@example.org"), **hidden, "altcha": await solved(client, "busy")}
    done = await client.post("/events/busy/register", data=data)
    assert done.status_code == 303 and done.headers["location"].endswith("/events/busy/registered")
    assert (await counts(db))[0] == THRESHOLD + 1 and await spent(db) == 1


async def test_a_bad_form_with_a_good_proof_shows_the_widget_again(client: httpx.AsyncClient, create_event, db: DB):
    await create_event(slug="bad-form")
    hidden = await open_form(client, "bad-form")
    await fill_up(client, "bad-form", hidden)
    data = {**person(email="not an address"), **hidden, "altcha": await solved(client, "bad-form")}
    response = await client.post("/events/bad-form/register", data=data)
    assert response.status_code == 422 and "enter a valid e-mail address" in response.text and WIDGET in response.text
    assert (await counts(db))[0] == THRESHOLD


def _reencoded(payload: str, **changes: Any) -> str:
    fields = json.loads(base64.b64decode(payload))
    fields.update(changes)
    return base64.b64encode(json.dumps(fields).encode()).decode()


def _signed_elsewhere(event_id: int) -> str:
    """A solution to a challenge with our parameters, but signed with another key."""
    options = ChallengeOptions(
        max_number=50, hmac_key="not-our-key", expires=now() + dt.timedelta(minutes=5),
        params={"event": str(event_id), "form": "register"},
    )  # fmt: skip
    return solve(create_challenge(options).to_dict())


@pytest.mark.parametrize("case", ["reused", "forged", "wrong_number", "wrong_signature", "other_event", "other_form"])
async def test_bad_solutions_are_refused_clearly_and_nothing_is_stored(
    client: httpx.AsyncClient, create_event, db: DB, case: str
) -> None:
    event_id = await create_event(slug="guarded")
    await create_event(slug="elsewhere")
    hidden = await open_form(client, "guarded")
    await fill_up(client, "guarded", hidden)
    good = await solved(client, "guarded")
    if case == "reused":
        first = await client.post(
            "/events/guarded/register", data={**person(email="a@example.org"), **hidden, "altcha": good}
        )
        assert first.status_code == 303
        payload, message = good, "The automatic check was already used."
    elif case == "forged":
        payload, message = "bm90IGFuIGFsdGNoYSBwYXlsb2Fk", "The automatic check could not be verified."
    elif case == "wrong_number":
        number = json.loads(base64.b64decode(good))["number"] + 1
        payload, message = _reencoded(good, number=number), "The automatic check could not be verified."
    elif case == "wrong_signature":
        payload, message = _signed_elsewhere(event_id), "The automatic check could not be verified."
    elif case == "other_event":
        payload, message = await solved(client, "elsewhere"), "The automatic check was made for another page."
    else:
        payload, message = (
            await solved(client, "guarded", "send-link"),
            "The automatic check was made for another page.",
        )
    before = await counts(db)
    response = await client.post(
        "/events/guarded/register", data={**person(email="b@example.org"), **hidden, "altcha": payload}
    )
    assert response.status_code == 422 and message in response.text and WIDGET in response.text
    assert await counts(db) == before
    async with db.connection() as conn:
        emails = await conn.fetch_all("SELECT email FROM registrations WHERE email = 'b@example.org'")
    assert emails == []


async def test_an_expired_solution_is_refused(client: httpx.AsyncClient, create_event, db: DB, monkeypatch) -> None:
    await create_event(slug="slow")
    hidden = await open_form(client, "slow")
    await fill_up(client, "slow", hidden)
    old = await solved(client, "slow")
    clock = MovedClock(monkeypatch)
    clock.forward(dt.timedelta(minutes=11))  # past the challenge's ten minutes, and into a new counting window
    for i in range(THRESHOLD):
        data = {**person(email=f"again{i}@example.org"), **hidden}
        assert (await client.post("/events/slow/register", data=data)).status_code == 303
    before = await counts(db)
    response = await client.post(
        "/events/slow/register", data={**person(email="x@example.org"), **hidden, "altcha": old}
    )
    assert response.status_code == 422 and "The automatic check has expired." in response.text
    assert await counts(db) == before


async def test_the_work_grows_with_the_addresses_load(app, client: httpx.AsyncClient, create_event) -> None:
    tuning = Tuning(threshold=20, base=20_000, doubling=50, most=1_000_000)
    assert [tuning.max_number(h) for h in (0, 20, 69, 70, 120, 5000)] == [
        20_000, 20_000, 20_000, 40_000, 80_000, 1_000_000,
    ]  # fmt: skip
    assert not tuning.needed(19) and tuning.needed(20)
    await create_event(slug="growing")
    hidden = await open_form(client, "growing")
    await fill_up(client, "growing", hidden)
    easy = (await fetch_challenge(client, "growing"))["maxNumber"]
    for i in range(4):
        data = {**person(email=f"more{i}@example.org"), **hidden, "altcha": await solved(client, "growing")}
        assert (await client.post("/events/growing/register", data=data)).status_code == 303
    app.state.registrar.proofs.loads = Loads()  # as a few seconds later: the load as counted now
    hard = (await fetch_challenge(client, "growing"))["maxNumber"]
    assert easy == 200 and hard == 800


async def test_a_flood_of_challenge_requests_writes_nothing_and_reads_once(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="flooded")
    challenges = await asyncio.gather(*(fetch_challenge(client, "flooded") for _ in range(200)))
    assert len({c["challenge"] for c in challenges}) == 200  # each one new (each is good once)
    assert all("event=" in c["salt"] and "expires=" in c["salt"] for c in challenges)
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(sa.func.count()).select_from(rate_limits)) == 0
    assert await spent(db) == 0
    assert (await client.get("/events/flooded/challenge/anything")).status_code == 404
    assert (await client.get("/events/no-such-event/challenge/register")).status_code == 404


async def test_the_hard_ceiling_stays_for_floods(client: httpx.AsyncClient, create_event, db: DB, monkeypatch) -> None:
    monkeypatch.setattr(registration_services, "RATE_LIMIT", THRESHOLD + 2)
    await create_event(slug="ceiling")
    hidden = await open_form(client, "ceiling")
    await fill_up(client, "ceiling", hidden)
    for i in range(2):
        data = {**person(email=f"solved{i}@example.org"), **hidden, "altcha": await solved(client, "ceiling")}
        assert (await client.post("/events/ceiling/register", data=data)).status_code == 303
    data = {**person(email="flood@example.org"), **hidden, "altcha": await solved(client, "ceiling")}
    response = await client.post("/events/ceiling/register", data=data)
    assert response.status_code == 429 and int(response.headers["retry-after"]) > 0
    assert (await counts(db))[0] == THRESHOLD + 2


async def test_another_address_is_not_asked_and_another_event_neither(app, client, create_event) -> None:
    await create_event(slug="one")
    await create_event(slug="two")
    hidden = await open_form(client, "one")
    await fill_up(client, "one", hidden)
    assert WIDGET in (await client.get("/events/one")).text
    assert WIDGET not in (await client.get("/events/two")).text
    transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        assert WIDGET not in (await other.get("/events/one")).text


async def test_send_link_past_the_threshold_needs_a_proof(client, db, create_event, create_registration) -> None:
    event = await load_event(db, await create_event(**on_now()))
    await create_registration(event.id, email="ioana@example.org")
    token = await csrf_for(client, f"/events/{event.slug}/login")
    for i in range(THRESHOLD):
        data = {"email": f"someone{i}@example.org", "csrf_token": token}
        assert (await client.post(f"/events/{event.slug}/send-link", data=data)).status_code == 303
    page = await client.get(f"/events/{event.slug}/login")
    assert f'challengeurl="http://testserver/events/{event.slug}/challenge/send-link"' in page.text
    refused = await client.post(
        f"/events/{event.slug}/send-link", data={"email": "ioana@example.org", "csrf_token": token}
    )
    assert refused.status_code == 422 and NEEDED in refused.text and 'value="ioana@example.org"' in refused.text
    assert await outbox_rows(db) == []
    payload = await solved(client, event.slug, "send-link")
    data = {"email": "ioana@example.org", "csrf_token": token, "altcha": payload}
    assert (await client.post(f"/events/{event.slug}/send-link", data=data)).status_code == 303
    assert len(await outbox_rows(db)) == 1
    again = await client.post(f"/events/{event.slug}/send-link", data=data)
    assert again.status_code == 422 and "The automatic check was already used." in again.text
    assert len(await outbox_rows(db)) == 1


async def test_password_login_past_the_threshold_needs_a_proof(client, db, create_event, create_registration) -> None:
    event = await load_event(db, await create_event(**on_now(login="link_and_password")))
    await create_registration(event.id, email="ana@example.org", password_hash=await hash_password("a-good-password"))
    token = await csrf_for(client, f"/events/{event.slug}/login")
    for i in range(THRESHOLD):
        data = {"email": f"other{i}@example.org", "password": "wrong-password", "csrf_token": token}
        assert (await client.post(f"/events/{event.slug}/login", data=data)).status_code == 400
    right = {"email": "ana@example.org", "password": "a-good-password", "csrf_token": token}
    refused = await client.post(f"/events/{event.slug}/login", data=right)
    assert (
        refused.status_code == 422
        and NEEDED in refused.text
        and f"/events/{event.slug}/challenge/login" in refused.text
    )
    other_form = await solved(client, event.slug, "send-link")
    refused = await client.post(f"/events/{event.slug}/login", data={**right, "altcha": other_form})
    assert refused.status_code == 422 and "another page" in refused.text
    response = await client.post(
        f"/events/{event.slug}/login", data={**right, "altcha": await solved(client, event.slug, "login")}
    )
    assert response.status_code == 303 and response.headers["location"].endswith("/watch")


async def test_the_embedded_form_counts_with_the_event_page_and_asks_for_the_same_proof(
    client: httpx.AsyncClient, create_event, db: DB
) -> None:
    await create_event(slug="busy-embed", embed_origins="https://www.example.ro")
    hidden = await open_form(client, "busy-embed")
    await fill_up(client, "busy-embed", hidden)  # through the event page: the same address, the same count
    page = await client.get("/events/busy-embed/embed")
    assert WIDGET in page.text and "/static/vendor/altcha/altcha.js" in page.text
    embedded = {**hidden, "csrf_token": csrf_from(page.text)}
    before = await counts(db)
    refused = await client.post("/events/busy-embed/embed", data={**person(email="late@example.org"), **embedded})
    assert refused.status_code == 422 and NEEDED in refused.text and WIDGET in refused.text
    assert 'class="embed"' in refused.text and await counts(db) == before
    data = {**person(email="late@example.org"), **embedded, "altcha": await solved(client, "busy-embed")}
    done = await client.post("/events/busy-embed/embed", data=data)
    assert done.status_code == 303 and done.headers["location"].endswith("/events/busy-embed/embed/registered")
    assert (await counts(db))[0] == before[0] + 1 and await spent(db) == 1
