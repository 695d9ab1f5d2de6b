"""Keeping the secret tokens of personal links out of logs and stored e-mails (docs/security.md)."""

from __future__ import annotations

import logging
import re

# The path segments followed by a secret token, in every route that takes one (tests/webinar/test_redact.py walks the
# routes and fails if one is missing): the join, cancel, unsubscribe, e-mail-change, registration-confirmation and
# certificate links; and STAFF_TOKEN_SEGMENTS under /admin.
TOKEN_SEGMENTS = ("join", "cancel", "unsubscribe", "confirm-email", "confirm", "certificate")
# The same in the back office: a staff member's password-reset link.
STAFF_TOKEN_SEGMENTS = ("password-reset",)
REDACTED = "[redacted]"

# A signed token is URL-safe base64 in parts joined by dots (itsdangerous); percent-escapes in case a client sends one.
_SEGMENT = "|".join(map(re.escape, TOKEN_SEGMENTS))
_STAFF_SEGMENT = "|".join(map(re.escape, STAFF_TOKEN_SEGMENTS))
_TOKEN_PATH = re.compile(
    r"(/events/[^/\s\"'<>]+/(?:me/)?(?:" + _SEGMENT + r")|/admin/(?:" + _STAFF_SEGMENT + r"))/[A-Za-z0-9_\-.%]+"
)
# An .ics folds lines at 75 octets, in the middle of a URL: a CRLF (or LF) followed by one space or tab.
_FOLD = re.compile(r"\r?\n[ \t]")


def redact(text: str) -> str:
    """`text` with the token of every personal link replaced by REDACTED (the rest of the URL kept)."""
    return _TOKEN_PATH.sub(rf"\1/{REDACTED}", text)


def redact_ics(text: str) -> str:
    """An .ics with its links redacted: unfolded first, so that a token split over two lines goes whole."""
    return redact(_FOLD.sub("", text))


class RedactTokens(logging.Filter):
    """A filter for uvicorn's access log (`uvicorn.access`), whose record carries the path among its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install(logger_names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")) -> None:
    """Add the filter to uvicorn's loggers, once however many apps a process builds."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactTokens) for existing in logger.filters):
            logger.addFilter(RedactTokens())
