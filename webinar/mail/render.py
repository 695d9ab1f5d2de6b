"""Rendering e-mails from templates: `.txt` with autoescape off, `.html` with it on, subject from a block."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jinja2
from databases.core import Connection
from markupsafe import Markup

from webinar import i18n
from webinar.settings import Settings

if TYPE_CHECKING:
    from webinar.mail.outbox import Message


@dataclass(frozen=True)
class Mailer:
    """What composing an e-mail needs from the app: its settings and its Jinja environment."""

    settings: Settings
    env: jinja2.Environment
    # What writing one pass of the sender's e-mails may keep from one message to the next (an event and its
    # organiser, read once for the 50,000 reminders of one event); None outside a pass, where nothing is kept.
    memo: dict[Any, Any] | None = field(default=None, compare=False, repr=False)
    # What a sender keeps from pass to pass (the stencils of webinar/mail/stencil.py, each keyed by everything it was
    # made from: the event as read, its organiser, the shape of the e-mail); None: nothing is kept beyond the memo.
    kept: dict[Any, Any] | None = field(default=None, compare=False, repr=False)
    # The messages being written with this one (a sender lane's claim), so that a composer may read what they all need
    # in one query rather than one per e-mail.
    batch: tuple[Message, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Composed:
    """One e-mail, rendered and ready for the outbox."""

    subject: str
    text: str
    html: str
    ics: str | None
    headers: dict[str, str]


@dataclass(frozen=True)
class Dropped:
    """A queued e-mail that is not to go after all (its event was cancelled, its registrant no longer concerned), and
    why: the mail queue shows it."""

    reason: str


# Writes an e-mail queued unwritten (`Message.composed` false) as it goes out; None when its recipient is gone, a
# Dropped when it is not to go after all (its event cancelled or started, its registrant no longer concerned).
Composer = Callable[[Connection, Mailer, "Message"], Awaitable[Composed | Dropped | None]]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def one_line(value: str) -> str:
    """Text fit for a header: no CR, LF or other control characters, spaces collapsed."""
    if value.isprintable():  # the usual case, without looking at each character in Python
        return " ".join(value.split())
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value)
    return " ".join(cleaned.split())


def _text_env(env: jinja2.Environment) -> jinja2.Environment:
    # Plain text is never HTML: escaping would turn "Ana & Ion" into "Ana &amp; Ion".
    cached: jinja2.Environment | None = getattr(env, "_webinar_text_env", None)
    if cached is None:
        cached = env.overlay(autoescape=False)
        env._webinar_text_env = cached  # type: ignore[attr-defined]
    return cached


def render_email(env: jinja2.Environment, name: str, context: dict[str, Any], lang: str) -> Rendered:
    """Render `emails/<name>.txt` and `.html` in a language; the subject is the text template's subject block."""
    with i18n.use(lang):
        text_template = _text_env(env).get_template(f"emails/{name}.txt")
        subject = "".join(text_template.blocks["subject"](text_template.new_context(dict(context))))
        text = text_template.render(context)
        html = env.get_template(f"emails/{name}.html").render(context)
    return Rendered(one_line(subject)[:300], text, html)


def render_block(env: jinja2.Environment, name: str, block: str, context: dict[str, Any], lang: str) -> str:
    """One block (`subject` or `body`) of the plain-text template `emails/<name>.txt`, rendered in a language."""
    with i18n.use(lang):
        template = _text_env(env).get_template(f"emails/{name}.txt")
        return "".join(template.blocks[block](template.new_context(dict(context))))


def render_written(
    env: jinja2.Environment, subject: str, text: str, html: Markup, context: dict[str, Any], lang: str
) -> Rendered:
    """An e-mail whose subject and body are already written (an organiser's text, its placeholders filled), inside
    our layout: `emails/written.txt` and `.html`, whose footer (event page, privacy notice, unsubscribe) stays."""
    with i18n.use(lang):
        values = {**context, "written_text": text, "written_html": html}
        rendered_text = _text_env(env).get_template("emails/written.txt").render(values)
        rendered_html = env.get_template("emails/written.html").render(values)
    return Rendered(one_line(subject)[:300], rendered_text, rendered_html)
