"""Accent colours: the #rrggbb form, and WCAG contrast against the white text of buttons and the white page."""

from __future__ import annotations

import re

COLOUR = re.compile(r"#[0-9a-f]{6}")
MIN_CONTRAST = 4.5  # WCAG 2 AA for normal text: white on the button, the colour on the white page (links)
WHITE = "#ffffff"
SITE_ACCENT = "#1f5fbf"  # --accent in static/css/site.css, when an organisation chose none


def normalised(value: str) -> str | None:
    """The colour as stored ("#rrggbb", lower case) or None when it is not one."""
    value = value.strip().lower()
    return value if COLOUR.fullmatch(value) else None


def _channel(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """The WCAG relative luminance of a "#rrggbb" colour."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(one: str, other: str) -> float:
    """The WCAG contrast ratio of two colours, 1 to 21."""
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def darkened(colour: str) -> str:
    """The lightest shade of `colour` (same hue, each channel scaled down) that white text reads on at 4.5:1."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    for step in range(100, -1, -1):
        shade = "#{:02x}{:02x}{:02x}".format(*(round(c * step / 100) for c in (r, g, b)))
        if contrast(shade, WHITE) >= MIN_CONTRAST:
            return shade
    return "#000000"
