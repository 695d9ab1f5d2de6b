"""The branding page's forms: the accent colour (#rrggbb, readable with white text) and the logo upload."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile

from webinar.branding import colours, logo
from webinar.branding.logo import Logo, LogoRefused
from webinar.i18n import gettext as _
from webinar.web.forms import text


def colour_form(form: FormData) -> tuple[str | None, dict[str, str]]:
    """The colour to store (None: back to the site's own, when the field is left empty) and the errors by field."""
    typed = text(form, "accent_colour")
    if not typed:
        return None, {}
    colour = colours.normalised(typed)
    if colour is None:
        return None, {"accent_colour": _("Write the colour as # and six hexadecimal digits, e.g. #1f5fbf.")}
    ratio = colours.contrast(colour, colours.WHITE)
    if ratio < colours.MIN_CONTRAST:
        message = _(
            "White text on this colour has a contrast of %(ratio)s:1; buttons and links need at least %(least)s:1 to "
            "be readable. A darker shade of it that is: %(shade)s."
        ) % {"ratio": f"{ratio:.1f}", "least": colours.MIN_CONTRAST, "shade": colours.darkened(colour)}
        return None, {"accent_colour": message}
    return colour, {}


async def logo_form(form: FormData) -> Logo:
    """The uploaded logo, checked and re-encoded (webinar/branding/logo.py); LogoRefused says why not."""
    file = form.get("logo")
    if not isinstance(file, UploadFile) or not file.filename:
        raise LogoRefused(_("Choose an image file to upload."))
    data = await file.read(logo.MAX_BYTES + 1)
    return await logo.checked_off_loop(data)
