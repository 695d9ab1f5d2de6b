"""The "add to calendar" of the registered page: the public .ics of the event, and the Google and Outlook links."""

from __future__ import annotations

import datetime as dt
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import icalendar

from tests.webinar.regutil import open_form, person
from webinar.events import queries as event_queries


async def _registered(client: httpx.AsyncClient, slug: str) -> str:
    response = await client.post(f"/events/{slug}/register", data={**person(), **await open_form(client, slug)})
    assert response.status_code == 303, response.text[:300]
    page = await client.get(response.headers["location"])
    assert page.status_code == 200
    return page.text


def _href(html: str, starts: str) -> str:
    at = html.index(f'href="{starts}')
    return unescape(html[at + 6 : html.index('"', at + 6)])


async def test_the_registered_page_offers_the_event_to_any_calendar(
    client: httpx.AsyncClient, create_event, db
) -> None:
    start = dt.datetime(2030, 5, 6, 7, 0, tzinfo=dt.UTC)
    event_id = await create_event(
        slug="cal", title="Curs: etică", starts_at=start, ends_at=start + dt.timedelta(hours=2)
    )
    page = await _registered(client, "cal")
    assert "Add it to your calendar" in page and 'href="http://testserver/events/cal/calendar.ics" download' in page
    google = parse_qs(urlsplit(_href(page, "https://calendar.google.com/")).query)
    assert google["text"] == ["Curs: etică"] and google["dates"] == ["20300506T070000Z/20300506T090000Z"]
    assert google["location"] == ["http://testserver/events/cal"]
    outlook = parse_qs(urlsplit(_href(page, "https://outlook.live.com/")).query)
    assert outlook["subject"] == ["Curs: etică"] and outlook["startdt"] == ["2030-05-06T07:00:00Z"]
    assert outlook["enddt"] == ["2030-05-06T09:00:00Z"]

    response = await client.get("/events/cal/calendar.ics")
    assert response.status_code == 200 and response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="cal.ics"'
    calendar = icalendar.Calendar.from_ical(response.text)
    [entry] = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "PUBLISH" and str(entry["SUMMARY"]) == "Curs: etică"
    assert entry.decoded("DTSTART") == start and entry.decoded("DTEND") == start + dt.timedelta(hours=2)
    assert str(entry["LOCATION"]) == "http://testserver/events/cal" and str(entry["STATUS"]) == "CONFIRMED"
    # Nothing personal: no attendee, no organiser address, no join link.
    assert "ATTENDEE" not in entry and "ORGANIZER" not in entry and "/join/" not in response.text
    async with db.connection() as conn:
        event = await event_queries.by_id(conn, event_id)
    assert event is not None and str(entry["UID"]) == f"event-{event.id}@testserver"


async def test_a_waitlisted_registrant_is_not_offered_the_entry(client: httpx.AsyncClient, create_event) -> None:
    await create_event(slug="full", capacity=1, waitlist=True)
    await _registered(client, "full")
    client.cookies.clear()
    response = await client.post(  # the second person, another address: the waiting list
        "/events/full/register", data={**person(email="a.doua@example.org"), **await open_form(client, "full")}
    )
    page = (await client.get(response.headers["location"])).text
    assert "waiting list" in page and "Add it to your calendar" not in page


async def test_the_calendar_file_of_an_unknown_event_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/events/no-such-event/calendar.ics")).status_code == 404


async def test_the_event_page_tells_a_registrant_how_to_get_the_link_again(client: httpx.AsyncClient, create_event):
    await create_event(slug="again")
    page = (await client.get("/events/again")).text
    assert "Already registered?" in page and 'href="http://testserver/events/again/login#lost-link"' in page
    login = (await client.get("/events/again/login")).text
    assert 'id="lost-link"' in login and "send-link" in login
