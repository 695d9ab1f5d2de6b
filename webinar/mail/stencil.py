"""Stencils: an e-mail rendered once with markers where each person's values go, then filled in person by person.

The bulk e-mails of an event (a reminder to 50,000 people) differ from one registrant to the next only in a few
values — the name, the personal links. Rendering the templates once per event, language and kind with a marker in
place of each such value, and pasting each person's values into the pieces, gives the same bytes as rendering for
each person (their values escaped in the HTML as the template's autoescape would), at a fraction of the cost. The
composer checks the first e-mail filled from each stencil against the one rendered the ordinary way and keeps to
the ordinary way if they differ (a template that transforms a value, `|upper`, cannot be filled in after the fact).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import escape

# A marker is a name between two unit separators: a character no template, translation or escaping touches, and that
# no event's title or text contains (the first fill is compared with the ordinary rendering, so one that did would
# only disable the stencil, never send a wrong e-mail).
_MARK = "\x1f"
_MARKED = re.compile(f"{_MARK}([a-z_]+){_MARK}")


def marker(name: str) -> str:
    """What a template is given in place of the value `name` when a stencil is made."""
    return f"{_MARK}{name}{_MARK}"


@dataclass(frozen=True)
class Stencil:
    """One rendered text cut at its markers: literal pieces at even positions, the names of values at odd ones."""

    pieces: tuple[str, ...]
    html: bool  # values are escaped as Jinja's autoescape escapes them (a Markup value is kept as it is)

    @classmethod
    def cut(cls, rendered: str, html: bool) -> Stencil:
        return cls(tuple(_MARKED.split(rendered)), html)

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with each marker replaced by its value (escaped, for HTML)."""
        pieces = list(self.pieces)
        for i in range(1, len(pieces), 2):
            value = values[pieces[i]]
            pieces[i] = str(escape(value)) if self.html else value
        return "".join(pieces)
