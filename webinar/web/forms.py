"""Reading submitted forms safely: size and field limits, CSRF tokens, and text clean-up."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from webinar.i18n import gettext as _
from webinar.state import app_state
from webinar.text import one_line_end
from webinar.web.cookies import ensure_sid

MAX_FIELDS = 100
MAX_PART_BYTES = 256 * 1024


def csrf_token(request: Request) -> str:
    """The CSRF token for this browser: an HMAC of its session id, so it needs no storage."""
    secret = str(app_state(request).settings.secret_key).encode()
    return hmac.new(secret, b"csrf|" + ensure_sid(request).encode(), hashlib.sha256).hexdigest()


async def read_form(request: Request, max_files: int = 0) -> FormData:
    """The submitted form, after checking its CSRF token; 403 when it is missing or wrong. With `max_files` it may
    carry that many files (spooled to disk by the parser, their size bounded by the body limit of the path:
    web/middleware.py); a text field stays within MAX_PART_BYTES either way."""
    try:
        form = await request.form(max_files=max_files, max_fields=MAX_FIELDS, max_part_size=MAX_PART_BYTES)
    except AssertionError as exc:  # python-multipart missing: a deployment bug, not the user's
        raise RuntimeError("form parsing unavailable") from exc
    sent = form.get("csrf_token")
    # Compared as bytes: compare_digest raises TypeError on non-ASCII str, and a hostile token must be a 403.
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), csrf_token(request).encode()):
        await form.close()  # a file it carried is dropped now, not when the garbage collector gets to it
        raise HTTPException(403, _("The form has expired or was not sent from this site. Please try again."))
    return form


def text(form: FormData, name: str) -> str:
    """A text field, trimmed, NFC-normalised and with its line ends made LF ('' when absent, or when a file was sent
    instead): browsers send a textarea's lines with CRLF, and everything after us splits paragraphs on "\n\n"."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return unicodedata.normalize("NFC", one_line_end(value.strip()))


# Line and paragraph separators (U+2028, U+2029) end a line in JavaScript, JSON-in-HTML and many mail readers: a name
# holding one would break the line it is printed on, as a CR or LF would.
SEPARATORS = ("Zl", "Zp")


def has_control_chars(value: str, allow_newlines: bool = False) -> bool:
    """Whether the text holds NUL, other control characters, line or paragraph separators, or bidi overrides (the
    one rule every text field of every form goes through)."""
    for ch in value:
        if allow_newlines and ch in "\r\n\t":
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc" or cat in SEPARATORS or (cat == "Cf" and ch not in "\u200c\u200d"):
            return True
    return False
