"""Changes this process made to what an event's public pages show (the event, its consent texts and questions, its
organisation and that organisation's branding): a number each such write raises, so that the copies this process
keeps of them (registration/batch.py `Contexts`) are dropped at once. Another process's copies do not hear of it:
they age out by themselves, within `Contexts.PAGE_SECONDS` for the pages."""

from __future__ import annotations

_generation = [0]


def shown_changed() -> None:
    """Say that this process is writing an event, its texts or questions, its organisation or its branding."""
    _generation[0] += 1


def generation() -> int:
    """The number of such writes so far in this process: a copy kept under another number is out of date."""
    return _generation[0]
