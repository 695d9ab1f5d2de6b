"""The e-mails of a sender's pass written from stencils (the templates rendered once per event, kind and language,
each registrant's values filled in) are byte for byte the ones rendered for each person: names with diacritics and
HTML's special characters, opted-in registrants' unsubscribe links, an organiser's edited text, every bulk kind."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable

import jinja2
import pytest

from tests.webinar.access_helpers import load_event
from tests.webinar.reminder_helpers import REAL_NOW, move_clock
from webinar.db import DB
from webinar.mail import ics, texts
from webinar.mail.render import Mailer
from webinar.mail.texts import EmailText
from webinar.registration import notifications
from webinar.registration import queries as registration_queries
from webinar.registration.queries import Registration
from webinar.settings import Settings
from webinar.tables import email_templates
from webinar.templating import make_environment

Factory = Callable[..., Awaitable[int]]
PEOPLE = (
    {"first_name": "Ștefan", "last_name": "Țăranu-Popescu"},
    {"first_name": "Ana & <b>Ion</b>", "last_name": 'O\'Neil "Q"', "language": "en"},
    {"first_name": "Élodie", "last_name": "Brâncuși", "marketing_opt_in": True},  # the unsubscribe link and headers
    {"first_name": "", "last_name": "Ionescu"},  # no first name: what the template says without one
    {"first_name": "{first_name} {{ 7*7 }}", "last_name": "Ă" * 60},  # braces are a name, never a placeholder
    {"first_name": "Ioana", "last_name": "Munteanu", "language": "en", "marketing_opt_in": True},
)
KINDS = ("reminder", "followup_attended", "followup_missed", "update", "confirmation", "approved", "cancelled")
EDITED = EmailText(
    0, "reminder", "ro", "Mâine: {event_title}, {first_name}!",
    "Bună, {first_name} {last_name},\n\nIntră la {join_link} sau renunță: {cancel_link}.\n"
    "Detalii: https://exemplu.ro/program, {{acolade}}.\n\n{organisation}",
    "editor@example.org", dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
)  # fmt: skip


async def _everyone(db: DB, create_event: Factory, create_registration: Factory, **event: object):
    title = "Conferința „Inimă & Suflet” <2030>"
    event_id = await create_event(title=title, replay_url="https://replay.example/x", **event)
    ids = [await create_registration(event_id, email=f"p{i}@example.org", **p) for i, p in enumerate(PEOPLE)]
    async with db.connection() as conn:
        regs = [await registration_queries.by_id(conn, event_id, i) for i in ids]
    return await load_event(db, event_id), [r for r in regs if r is not None]


def _both(settings: Settings, kind: str, event, regs: list[Registration], written=None, env=None):
    """Each registrant's e-mail composed the ordinary way and from the pass's stencils, and the pass's memo."""
    env = env or make_environment()
    one_by_one, in_a_pass = Mailer(settings, env), Mailer(settings, env, memo={})
    pairs = [
        (
            notifications.compose(one_by_one, kind, event, reg, "Asociația „Medici”", None, written),
            notifications.compose_from_stencil(in_a_pass, kind, event, reg, "Asociația „Medici”", written),
        )
        for reg in regs
    ]
    return pairs, in_a_pass.memo


def _used(memo) -> None:
    """Every stencil of the pass was used (none fell back to writing one by one)."""
    stencils = [v for k, v in memo.items() if k[0] in ("stencil", "ics")]
    assert stencils and all(s.usable for s in stencils)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_pass_written_from_stencils_is_byte_identical_to_one_by_one(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, kind: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    event, regs = await _everyone(db, create_event, create_registration)
    move_clock(monkeypatch, REAL_NOW().replace(microsecond=0))  # the calendar's DTSTAMP is the moment of writing
    pairs, memo = _both(settings, kind, event, regs)
    for ordinary, stencilled in pairs:
        assert stencilled == ordinary
    assert any("Ștefan" in o.text and "Ana &amp; &lt;b&gt;Ion&lt;/b&gt;" not in o.text for o, _ in pairs)
    assert "Ana &amp; &lt;b&gt;Ion&lt;/b&gt;" in pairs[1][0].html
    assert pairs[2][0].headers and "unsubscribe" in pairs[2][0].text
    _used(memo)
    # One stencil per language and shape, not per person: four shapes (ro, en; opted in or not; a first name or not).
    assert len([k for k in memo if k[0] == "stencil"]) < len(regs)


async def test_an_organisers_edited_text_is_filled_in_the_same_from_a_stencil(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, regs = await _everyone(db, create_event, create_registration)
    async with db.transaction() as conn:
        await conn.execute(
            email_templates.insert().values(
                event_id=event.id, kind="reminder", language="ro", subject=EDITED.subject, body=EDITED.body,
                updated_by=EDITED.updated_by, updated_at=EDITED.updated_at,
            )
        )  # fmt: skip
        written = await texts.current(conn, event.id, "reminder", "ro")
    move_clock(monkeypatch, REAL_NOW().replace(microsecond=0))
    ro = [r for r in regs if r.language == "ro"]
    pairs, memo = _both(settings, "reminder", event, ro, written=written)
    for ordinary, stencilled in pairs:
        assert stencilled == ordinary
    first = pairs[0][0]
    assert first.subject.startswith("Mâine: Conferința") and "Ștefan Țăranu-Popescu" in first.text
    assert "{acolade}" in first.text and "{{" not in first.text
    assert any("{first_name} {{ 7*7 }}" in o.text for o, _ in pairs)  # a name is a value, never read as a placeholder
    _used(memo)


async def test_a_template_that_transforms_a_value_is_written_one_by_one(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, regs = await _everyone(db, create_event, create_registration)
    base = make_environment()
    shouting = '{% extends "emails/base.txt" %}{% block subject %}Hi{% endblock %}' \
        "{% block body %}{{ registration.first_name|upper }}{% endblock %}"  # fmt: skip
    env = base.overlay(loader=jinja2.ChoiceLoader([jinja2.DictLoader({"emails/reminder.txt": shouting}), base.loader]))
    move_clock(monkeypatch, REAL_NOW().replace(microsecond=0))
    pairs, memo = _both(settings, "reminder", event, regs, env=env)
    for ordinary, stencilled in pairs:
        assert stencilled == ordinary
    assert "ȘTEFAN" in pairs[0][0].text
    assert not all(v.usable for k, v in memo.items() if k[0] == "stencil")


def test_the_calendar_stencil_folds_as_icalendar_does() -> None:
    """Lines of every length with backslash and caret escapes and multi-octet characters at the fold."""
    import random

    from icalendar.parser import Contentline

    chance = random.Random(18)  # nosec B311 - test data
    for _ in range(5000):
        line = "".join(chance.choice("ab\\^;:, ăȚ€😀") for _ in range(chance.randint(0, 300)))
        assert ics._folded(Contentline(line)) == Contentline(line).to_ical()


def test_the_calendar_stencils_personal_lines_are_icalendars() -> None:
    """Each registrant's lines written without icalendar (`ics._personal_lines`) are those icalendar writes, on random
    values: TEXT escapes and `\\N`, CR/LF anywhere (in a link or an address left to icalendar, and its refusal kept),
    quotes, carets, colons and the typographic apostrophe in the attendee's name, control characters, stamps with
    microseconds."""
    import random

    import icalendar

    def by_icalendar(inv: ics.Invitation) -> dict[str, bytes]:
        event = icalendar.Event()
        ics._add_personal(event, inv)
        return {name: ics._folded(event.content_line(name, event[name])) for name in ics.PERSONAL}

    def outcome(write, inv: ics.Invitation) -> object:
        try:
            return write(inv)
        except Exception as exc:  # the same refusal either way
            return type(exc)

    chance = random.Random(18)  # nosec B311 - test data
    pieces = ["a", " ", "\t", "\n", "\r", "\r\n", "\\N", "\\", ";", ",", ":", "'", "’", '"', "^", "ă", "Ș", "x" * 70,
              "😀", "\x00", "\x7f", "mailto:"]  # fmt: skip

    def text(most: int) -> str:
        return "".join(chance.choice(pieces) for _ in range(chance.randint(0, most)))

    start = dt.datetime(2030, 3, 5, 12, 0, tzinfo=dt.UTC)
    for _ in range(5000):
        inv = ics.Invitation(
            uid=text(8), title="T", description=text(30), url=chance.choice([f"https://x.test/j/{text(3)}", "https://x.test/j/a"]),
            starts_at=start, ends_at=start, organiser_name="O", organiser_email="o@x.test",
            attendee_email=chance.choice([f"{text(4)}@x.test", "a@x.test"]), attendee_name=text(10),
            stamp=start + dt.timedelta(microseconds=chance.randint(0, 10**12)),
        )  # fmt: skip
        assert outcome(ics._personal_lines, inv) == outcome(by_icalendar, inv), inv


def test_the_calendar_stencil_gives_each_registrant_their_own_entry() -> None:
    start = dt.datetime(2030, 3, 5, 12, 0, tzinfo=dt.UTC)

    def invitation(n: int, name: str) -> ics.Invitation:
        url = f"https://webinar.test/events/c/join/{n}-{'x' * n}"
        return ics.Invitation(
            uid=f"event-7-registration-{n}@webinar.test", title="Ședință; cu, virgule", url=url,
            description=f"Ședință\n\nLinkul tău:\n{url}", starts_at=start, ends_at=start + dt.timedelta(hours=1),
            organiser_name="Org", organiser_email="no-reply@webinar.test", attendee_email=f"p{n}@example.org",
            attendee_name=name, stamp=start - dt.timedelta(seconds=n), sequence=2, alarm_text="Începe în 15 minute",
        )  # fmt: skip

    stencil = ics.Stencil(invitation(1, "Ana Pop"))
    assert stencil.usable
    for n, name in enumerate(["Ștefan Țăranu", 'A "b" ;c:d,e', "x" * 200, "Ă" * 80, "^caret\\back", ""]):
        assert stencil.fill(invitation(n + 2, name)) == ics.render(invitation(n + 2, name))


async def test_stencils_kept_from_pass_to_pass_follow_a_changed_event(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, regs = await _everyone(db, create_event, create_registration)
    move_clock(monkeypatch, REAL_NOW().replace(microsecond=0))
    env, kept = make_environment(), {}
    one_by_one = Mailer(settings, env)
    moved = dataclasses.replace(event, title="Alt titlu", starts_at=event.starts_at + dt.timedelta(hours=1))
    for version in (event, event, moved):  # three passes; the event changed before the third
        in_a_pass = Mailer(settings, env, memo={}, kept=kept)
        for reg in regs:
            stencilled = notifications.compose_from_stencil(in_a_pass, "reminder", version, reg, "Org")
            assert stencilled == notifications.compose(one_by_one, "reminder", version, reg, "Org")
    assert "Alt titlu" in stencilled.subject
    assert len({k[1] for k in kept if k[0] == "stencil"}) == 2  # made again for the changed event, not per pass


async def test_staffs_message_to_registrants_is_filled_in_the_same_from_a_stencil(
    db: DB, settings: Settings, create_event: Factory, create_registration: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, regs = await _everyone(db, create_event, create_registration)
    message = dataclasses.replace(
        EDITED, kind="message", language="", body=EDITED.body + "\nReluarea: {replay_link}; {certificate_link}."
    )
    move_clock(monkeypatch, REAL_NOW().replace(microsecond=0))
    pairs, memo = _both(settings, "message", event, regs, written=message)  # every language: one text for all
    for ordinary, stencilled in pairs:
        assert stencilled == ordinary and stencilled.ics is None
    assert "Reluarea: http://testserver/events/" in pairs[0][0].text  # the replay plays behind the person's own link
    _used(memo)
