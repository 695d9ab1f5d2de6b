"""Reading submitted forms safely: size and field limits, CSRF tokens, and text clean-up."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from itsdangerous import BadData, TimestampSigner
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from webinar.i18n import gettext as _
from webinar.state import app_state
from webinar.text import one_line_end
from webinar.web.cookies import ensure_sid

MAX_FIELDS = 100
MAX_PART_BYTES = 256 * 1024
# How long an embedded form's token is good for: a page on the organiser's site may stay open all day.
EMBED_TOKEN_SECONDS = 24 * 60 * 60


def csrf_token(request: Request) -> str:
    """The CSRF token for this browser: an HMAC of its session id, so it needs no storage."""
    secret = str(app_state(request).settings.secret_key).encode()
    return hmac.new(secret, b"csrf|" + ensure_sid(request).encode(), hashlib.sha256).hexdigest()


def _embed_signer(request: Request) -> TimestampSigner:
    return TimestampSigner(str(app_state(request).settings.secret_key), salt="webinar.embed-form")


def embed_token(request: Request, event_id: int) -> str:
    """The CSRF token of an event's embedded registration form (SPEC §14): signed, dated and bound to the event, and
    held by no cookie, since a page framed by another site gets none (SameSite=Lax; Safari's and Firefox's
    third-party cookie rules). A form posted from another site's page is refused by its Origin
    (OriginCheckMiddleware); this token says the form is ours, for this event, and recent."""
    return _embed_signer(request).sign(str(event_id)).decode()


def _embed_token_ok(request: Request, sent: str, event_id: int) -> bool:
    try:
        value = _embed_signer(request).unsign(sent.encode(), max_age=EMBED_TOKEN_SECONDS)
    except BadData:
        return False
    return hmac.compare_digest(value, str(event_id).encode())


async def read_form(request: Request, max_files: int = 0, embedded: int | None = None) -> FormData:
    """The submitted form, after checking its CSRF token; 403 when it is missing or wrong. With `max_files` it may
    carry that many files (spooled to disk by the parser, their size bounded by the body limit of the path:
    web/middleware.py); a text field stays within MAX_PART_BYTES either way. `embedded` is the event id of an
    embedded form, whose token is `embed_token`'s instead of the browser's session-bound one."""
    try:
        form = await request.form(max_files=max_files, max_fields=MAX_FIELDS, max_part_size=MAX_PART_BYTES)
    except AssertionError as exc:  # python-multipart missing: a deployment bug, not the user's
        raise RuntimeError("form parsing unavailable") from exc
    sent = form.get("csrf_token")
    # Compared as bytes: compare_digest raises TypeError on non-ASCII str, and a hostile token must be a 403.
    if not isinstance(sent, str) or not (
        _embed_token_ok(request, sent, embedded)
        if embedded is not None
        else hmac.compare_digest(sent.encode(), csrf_token(request).encode())
    ):
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
