"""The certificate as a PDF (fpdf2): one landscape A4 page in the event's language, DejaVu Sans embedded (every
script a name can be written in: ș ț with the comma below, Cyrillic, Greek), and a QR code of the verification page.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from fpdf import FPDF

from webinar import i18n
from webinar.events.queries import ATTENDANCE as ATTENDANCE  # the kinds of Event.certificate_kind, re-exported
from webinar.events.queries import COMPLETION as COMPLETION
from webinar.events.queries import PARTICIPATION as PARTICIPATION
from webinar.i18n import gettext as _
from webinar.i18n import ngettext
from webinar.settings import PROJECT_ROOT

FONTS = PROJECT_ROOT / "static" / "fonts"
FAMILY = "DejaVu"
INK = (33, 37, 41)
ACCENT = (21, 94, 117)


@dataclass(frozen=True)
class Page:
    """Everything printed on a certificate."""

    language: str  # the event's: "ro" or "en"
    full_name: str
    member_id: str | None
    event_title: str
    starts_at_local: str  # the event's date, already formatted (see `render`)
    minutes: int
    credits: str
    organiser: str
    number: str
    verification_url: str
    kind: str = ATTENDANCE  # COMPLETION and PARTICIPATION when the event has a final evaluation


def _titles(kind: str) -> tuple[str, str]:
    """The document's title and its heading, by kind."""
    if kind == COMPLETION:
        return _("Certificate of completion"), _("CERTIFICATE OF COMPLETION")
    if kind == PARTICIPATION:
        return _("Certificate of participation"), _("CERTIFICATE OF PARTICIPATION")
    return _("Certificate of attendance"), _("CERTIFICATE OF ATTENDANCE")


def _qr_png(url: str) -> io.BytesIO:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=8, border=2)
    buffer.seek(0)
    return buffer


def render(page: Page) -> bytes:
    """The certificate's PDF."""
    with i18n.use(page.language):
        return bytes(_draw(page))


def _draw(page: Page) -> bytearray:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(False)
    title, heading = _titles(page.kind)
    pdf.set_title(f"{title} {page.number}")
    pdf.set_author(page.organiser)
    pdf.set_lang(page.language)
    pdf.add_font(FAMILY, "", FONTS / "DejaVuSans.ttf")
    pdf.add_font(FAMILY, "B", FONTS / "DejaVuSans-Bold.ttf")
    pdf.add_page()
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_text_color(*INK)
    pdf.set_margins(25, 25, 25)
    pdf.set_y(28)

    def line(text: str, size: float, style: str = "", gap: float = 3) -> None:
        pdf.set_font(FAMILY, style, size)
        pdf.multi_cell(0, size * 0.5, text, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    pdf.set_text_color(*ACCENT)
    line(heading, 26, "B", 8)
    pdf.set_text_color(*INK)
    line(_("This certifies that"), 13)
    line(page.full_name, 24, "B", 2)
    if page.member_id:
        line(_("Member ID: %(id)s") % {"id": page.member_id}, 12, gap=5)
    else:
        pdf.ln(3)
    line(_("attended the live event"), 13)
    line(page.event_title, 18, "B", 4)
    watched = ngettext("%(num)s minute watched live", "%(num)s minutes watched live", page.minutes) % {
        "num": page.minutes
    }
    line(f"{page.starts_at_local} · {watched}", 12)
    if page.kind == COMPLETION:
        line(_("and passed its final evaluation"), 12)
    if page.credits:
        line(_("Credits: %(credits)s") % {"credits": page.credits}, 13, "B")
    line(_("Organiser: %(name)s") % {"name": page.organiser}, 12)

    size = 34
    pdf.image(_qr_png(page.verification_url), x=pdf.w - 25 - size, y=pdf.h - 22 - size, w=size, h=size)
    pdf.set_xy(25, pdf.h - 46)
    pdf.set_font(FAMILY, "B", 11)
    pdf.cell(0, 6, _("Certificate number: %(number)s") % {"number": page.number}, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 9)
    pdf.cell(0, 5, _("Check that it is valid at:"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, page.verification_url, link=page.verification_url, new_x="LMARGIN", new_y="NEXT")
    return pdf.output()
