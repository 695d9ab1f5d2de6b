"""Organisers' e-mail texts as data: the placeholder parser evaluates nothing, the HTML is escaped, and our default
text in placeholder form gives back exactly what we send once its placeholders are filled."""

from __future__ import annotations

from typing import Any

import pytest

from webinar.db import DB
from webinar.events import queries as event_queries
from webinar.mail import placeholders
from webinar.mail.editable import EDITABLE, LANGUAGES
from webinar.mail.placeholders import Name
from webinar.mail.render import Mailer, render_block
from webinar.registration import emailtexts, notifications
from webinar.settings import Settings
from webinar.templating import make_environment

VALUES = {"first_name": "Ioana", "event_title": "Ședință <b>", "join_link": "https://x.example/join/abc?a=1&b=2"}


def test_placeholders_are_replaced_and_doubled_braces_are_braces() -> None:
    pieces, problems = placeholders.parse("Bună, {first_name}! {{first_name}} rămâne {{ așa }}.")
    assert not problems
    assert pieces == ["Bună, ", Name("first_name"), "! {first_name} rămâne { așa }."]
    assert placeholders.fill(pieces, VALUES) == "Bună, Ioana! {first_name} rămâne { așa }."


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("{first_name.__class__}", ("{first_name.__class__}",)),
        ("{0}", ("{0}",)),
        ("{% for x in y %}", ("{% for x in y %}",)),
        ("{first_name!r} {prenume} {}", ("{first_name!r}", "{prenume}", "{}")),
        ("{FIRST_NAME}", ("{FIRST_NAME}",)),
    ],
)
def test_anything_else_between_braces_is_an_unknown_placeholder_named_as_written(text: str, unknown: tuple) -> None:
    problems = placeholders.check(text, placeholders.PLACEHOLDERS)
    assert problems.unknown == unknown and problems
    pieces, _ = placeholders.parse(text)
    assert placeholders.fill(pieces, VALUES) == text  # even if it were sent, it would read as typed


def test_jinja_looking_text_is_shown_as_braces_never_evaluated() -> None:
    pieces, problems = placeholders.parse("{{ 7*7 }} {{ config }} {{ ''.__class__ }}")
    assert not problems
    filled = placeholders.fill(pieces, VALUES)
    assert filled == "{ 7*7 } { config } { ''.__class__ }" and "49" not in filled


def test_a_lone_brace_is_a_problem_and_unavailable_placeholders_are_named() -> None:
    assert placeholders.check("Preț: 5 } lei", ["first_name"]).stray == ("Preț: 5 } lei",)
    assert placeholders.check("deschis { aici", ["first_name"]).stray
    problems = placeholders.check("{first_name} {join_link} {join_link} {replay_link}", ["first_name"])
    assert problems.unavailable == ("{join_link}", "{replay_link}") and not problems.unknown


def test_the_html_part_is_escaped_with_paragraphs_and_links() -> None:
    text = "Salut {first_name} & bun venit la {event_title}!\nDetalii: https://exemplu.ro/program?zi=1&ora=2.\n\n{join_link}"
    html = str(placeholders.to_html(placeholders.parse(text)[0], VALUES))
    assert html == (
        "<p>Salut Ioana &amp; bun venit la Ședință &lt;b&gt;!<br>\n"
        'Detalii: <a href="https://exemplu.ro/program?zi=1&amp;ora=2">https://exemplu.ro/program?zi=1&amp;ora=2</a>.</p>\n'
        '<p><a href="https://x.example/join/abc?a=1&amp;b=2">https://x.example/join/abc?a=1&amp;b=2</a></p>'
    )
    hostile = str(placeholders.to_html(['<script>alert(1)</script> javascript:alert(1) "><img src=x>'], {}))
    assert "<script" not in hostile and "<img" not in hostile and "<a " not in hostile


def test_a_name_that_looks_like_a_link_is_not_made_one() -> None:
    html = str(placeholders.to_html([Name("first_name")], {"first_name": "https://evil.example"}))
    assert html == "<p>https://evil.example</p>"


@pytest.mark.parametrize("language", LANGUAGES)
async def test_our_default_in_placeholder_form_is_faithful(
    db: DB, settings: Settings, create_event: Any, language: str
) -> None:
    """For every e-mail, in both languages, on an event with and without approval: filling the placeholder form with
    the sample registrant gives back our template's subject and body rendered for them, character for character."""
    mailer = Mailer(settings, make_environment())
    for approval in ("auto", "manual"):
        event_id = await create_event(title="Curs {avansat} de „Știință”", approval=approval)
        async with db.connection() as conn:
            event = await event_queries.by_id(conn, event_id)
        assert event is not None
        for kind in EDITABLE:
            subject, body = emailtexts.default_text(mailer, kind, event, language)
            assert not placeholders.check(subject, kind.available), (kind.key, subject)
            assert not placeholders.check(body, kind.available), (kind.key, body)
            assert set(kind.required) <= placeholders.names(body)
            context = emailtexts._sample_context(mailer, kind, event, "Organizația X", language)
            values = emailtexts.sample_values(mailer, kind, event, "Organizația X", language)
            ours_subject = render_block(mailer.env, kind.kind, "subject", context, language)
            ours_body = render_block(mailer.env, kind.kind, "body", context, language).strip("\n")
            filled_subject = placeholders.fill(placeholders.parse(subject)[0], values)
            # Both as the subject header carries them: one_line folds white space (the narrow one in "8:42 PM" too)
            assert " ".join(filled_subject.split()) == " ".join(ours_subject.split()), kind.key
            assert placeholders.fill(placeholders.parse(body)[0], values) == ours_body, kind.key
            assert "{event_title}" in subject and "Curs {avansat}" in filled_subject  # its braces kept


def test_every_editable_kind_is_a_registrant_email_with_its_templates() -> None:
    env = make_environment()
    for kind in EDITABLE:
        assert kind.kind in notifications.KINDS
        assert set(kind.required) <= set(kind.available) <= set(placeholders.PLACEHOLDERS)
        assert {"subject", "body"} <= set(env.get_template(f"emails/{kind.kind}.txt").blocks)
