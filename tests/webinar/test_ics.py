"""Calendar invitations read back with `icalendar`: UID, SEQUENCE, METHOD, organiser, attendee, alarm, diacritics,
folding, and the cancellation."""

from __future__ import annotations

import dataclasses
import datetime as dt

import icalendar

from webinar.mail import ics

START = dt.datetime(2030, 3, 5, 12, 0, tzinfo=dt.UTC)
BUCHAREST = dt.timezone(dt.timedelta(hours=2))


def _invitation(**overrides: object) -> ics.Invitation:
    values: dict[str, object] = {
        "uid": "event-7-registration-42@webinar.test",
        "title": "Conferința Națională de Științe: știință, tehnică; și artă",
        "description": "Conferința Națională\n\nLinkul tău personal:\nhttps://webinar.test/events/c/join/abc",
        "url": "https://webinar.test/events/c/join/abc",
        "starts_at": START,
        "ends_at": START + dt.timedelta(hours=2),
        "organiser_name": "Asociația Medicilor din Iași",
        "organiser_email": "no-reply@webinar.test",
        "attendee_email": "stefan.popescu@example.org",
        "attendee_name": "Ștefan Țăranu-Popescu",
        "stamp": START - dt.timedelta(days=3),
        "sequence": 0,
        "alarm_text": "Începe în 15 minute: Conferința Națională",
    }
    values.update(overrides)
    return ics.Invitation(**values)  # type: ignore[arg-type]


def _parsed(text: str) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(text)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_an_invitation_reads_back_with_its_uid_sequence_method_people_and_times() -> None:
    calendar, event = _parsed(ics.render(_invitation(sequence=3)))
    assert calendar["METHOD"] == "REQUEST" and calendar["VERSION"] == "2.0" and calendar["PRODID"] == ics.PRODID
    assert event["UID"] == "event-7-registration-42@webinar.test"
    assert event["SEQUENCE"] == 3 and event["STATUS"] == "CONFIRMED"
    assert event.decoded("DTSTART") == START and event.decoded("DTSTART").utcoffset() == dt.timedelta(0)
    assert event.decoded("DTEND") == START + dt.timedelta(hours=2)
    assert event.decoded("DTSTAMP") == START - dt.timedelta(days=3)
    organiser = event["ORGANIZER"]
    assert str(organiser) == "mailto:no-reply@webinar.test"
    assert organiser.params["CN"] == "Asociația Medicilor din Iași"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:stefan.popescu@example.org"
    assert attendee.params["CN"] == "Ștefan Țăranu-Popescu"
    assert (attendee.params["ROLE"], attendee.params["RSVP"], attendee.params["PARTSTAT"]) == (
        "REQ-PARTICIPANT",
        "FALSE",
        "ACCEPTED",
    )
    assert str(event["URL"]) == "https://webinar.test/events/c/join/abc"


def test_times_given_in_another_zone_are_written_as_the_same_instant_in_utc() -> None:
    local = START.astimezone(BUCHAREST)  # 14:00 in Bucharest
    text = ics.render(_invitation(starts_at=local, ends_at=local + dt.timedelta(hours=1)))
    assert "DTSTART:20300305T120000Z" in text and "DTEND:20300305T130000Z" in text and "VTIMEZONE" not in text


def test_the_alarm_rings_fifteen_minutes_before_with_its_text() -> None:
    _, event = _parsed(ics.render(_invitation()))
    [alarm] = event.walk("VALARM")
    assert alarm["ACTION"] == "DISPLAY"
    assert alarm.decoded("TRIGGER") == -dt.timedelta(minutes=15)
    assert alarm["DESCRIPTION"] == "Începe în 15 minute: Conferința Națională"


def test_romanian_diacritics_and_punctuation_survive_the_round_trip() -> None:
    text = ics.render(_invitation())
    _, event = _parsed(text)
    assert event["SUMMARY"] == "Conferința Națională de Științe: știință, tehnică; și artă"
    assert event["DESCRIPTION"].endswith("Linkul tău personal:\nhttps://webinar.test/events/c/join/abc")
    # Escaped as RFC 5545 says (comma, semicolon, newline), in UTF-8, with the comma-below letters kept as such.
    unfolded = text.replace("\r\n ", "")
    assert "SUMMARY:Conferința Națională de Științe: știință\\, tehnică\\; și artă" in unfolded
    assert "DESCRIPTION:Conferința Națională\\n\\nLinkul" in unfolded
    assert "ş" not in text and "ţ" not in text  # no cedilla forms made up on the way


def test_long_lines_are_folded_at_75_octets_never_inside_a_character_with_crlf_ends() -> None:
    title = "Ș" * 60 + ", a; b\nc"
    text = ics.render(_invitation(title=title, description="Î" * 200))
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    assert any(line.startswith(" Ș") for line in lines)  # the summary went on a continuation line
    for line in lines:
        line.encode("utf-8").decode("utf-8")  # each physical line is whole UTF-8: no character cut in two
    _, event = _parsed(text)
    assert event["SUMMARY"] == title and event["DESCRIPTION"] == "Î" * 200


def test_names_cannot_break_out_of_their_parameter_or_line() -> None:
    text = ics.render(_invitation(organiser_name='Org "Ana"; X', attendee_name="Ana\r\nATTENDEE:mailto:evil@x.test"))
    _, event = _parsed(text)
    unfolded = text.replace("\r\n ", "").split("\r\n")
    assert [line for line in unfolded if line.startswith("ATTENDEE")] == [
        'ATTENDEE;CN="Ana ATTENDEE:mailto:evil@x.test";PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=FALSE:'
        "mailto:stefan.popescu@example.org"
    ]
    assert str(event["ATTENDEE"]) == "mailto:stefan.popescu@example.org"
    assert event["ORGANIZER"].params["CN"] == "Org Ana; X"
    assert 'ORGANIZER;CN="Org Ana; X":mailto:no-reply@webinar.test' in unfolded  # no RFC 6868 ^' (Outlook shows it)


def test_a_cancellation_keeps_the_uid_raises_the_sequence_and_has_no_alarm() -> None:
    invitation = _invitation(sequence=0)
    cancelled = dataclasses.replace(invitation, sequence=1, cancelled=True)
    calendar, event = _parsed(ics.render(cancelled))
    assert calendar["METHOD"] == "CANCEL" and ics.method_of(ics.render(cancelled)) == "CANCEL"
    assert event["UID"] == invitation.uid and event["SEQUENCE"] == 1 and event["STATUS"] == "CANCELLED"
    assert event.walk("VALARM") == [] and event["ORGANIZER"] and event["ATTENDEE"]
    assert ics.method_of(ics.render(invitation)) == "REQUEST"


def test_an_invitation_without_alarm_text_has_no_alarm() -> None:
    _, event = _parsed(ics.render(_invitation(alarm_text="")))
    assert event.walk("VALARM") == []
