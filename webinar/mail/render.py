"""Rendering e-mails from templates: `.txt` with autoescape off, `.html` with it on, subject from a block."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jinja2
from databases.core import Connection

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


@dataclass(frozen=True)
class Composed:
    """One e-mail, rendered and ready for the outbox."""

    subject: str
    text: str
    html: str
    ics: str | None
    headers: dict[str, str]


@dataclass(frozen=True)
class Withheld:
    """An e-mail queued unwritten that is not to be sent any more, and why (kept in the mail queue)."""

    reason: str


# Writes an e-mail queued unwritten (`Message.composed` false) as it goes out; None when its recipient is gone, a
# Withheld when it is no longer due (a reminder of an event that has started, to someone who cancelled).
Composer = Callable[[Connection, Mailer, "Message"], Awaitable[Composed | Withheld | None]]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def one_line(value: str) -> str:
    """Text fit for a header: no CR, LF or other control characters, spaces collapsed."""
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
