"""Jinja2 templates: autoescaping, translations, and the helpers every page uses."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.templating import Jinja2Templates

from webinar import i18n
from webinar.text import one_line_end
from webinar.web.forms import csrf_token
from webinar.web.language import switcher_links
from webinar.web.proof import widget_strings

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def _tz_abbrev(value: dt.datetime, timezone: str) -> str:
    return value.astimezone(ZoneInfo(timezone)).strftime("%Z")


def paragraphs(text: str) -> list[str]:
    """A plain text's paragraphs: split at empty lines (whatever the line ends), each trimmed, none empty."""
    return [part.strip() for part in re.split(r"\n[ \t]*\n", one_line_end(text)) if part.strip()]


def page_brand(request: Any) -> Any:
    """The organisation branding a page is shown in (`request.state.brand`, set by events/public.py), or None."""
    return getattr(request.state, "brand", None) if request is not None else None


def make_environment() -> jinja2.Environment:
    """The one Jinja2 environment: HTML escaped always; .txt e-mails are plain text by construction."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "xml", "svg"), default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates are part of the release: no stat() of the file on every render (a hot-path cost).
        auto_reload=False,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext, npgettext=i18n.npgettext
    )
    env.filters["local_datetime"] = i18n.local_datetime
    env.filters["tz_abbrev"] = _tz_abbrev
    env.filters["number"] = i18n.format_number
    env.filters["paragraphs"] = paragraphs
    env.globals["csrf_token"] = csrf_token
    env.globals["active_language"] = i18n.active
    env.globals["page_brand"] = page_brand
    env.globals["language_links"] = switcher_links
    env.globals["proof_strings"] = widget_strings  # the ALTCHA widget's labels (components/proof_of_work.html)
    return env


def make_templates() -> Jinja2Templates:
    """Starlette's template renderer over our environment."""
    return Jinja2Templates(env=make_environment())
