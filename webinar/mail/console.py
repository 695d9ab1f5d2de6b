"""The console backend's print of an e-mail: the message as it would be sent, decoded for a person to read."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

# Headers that say how the message is encoded, not what it says.
_TRANSPORT = frozenset({"mime-version", "content-type", "content-transfer-encoding"})
RULE = "-" * 72


def readable(wire: bytes) -> str:
    """The headers (decoded), the text part whole (no quoted-printable, so every link is on one line and can be
    copied), and one line for each other part: what a person running the platform locally needs to see."""
    email = BytesParser(policy=policy.default).parsebytes(wire)
    assert isinstance(email, EmailMessage)
    lines = [f"{name}: {value}" for name, value in email.items() if name.lower() not in _TRANSPORT]
    text = email.get_body(("plain",))
    body = text.get_content().rstrip("\n") if isinstance(text, EmailMessage) else "(no text part)"
    others = [part for part in email.iter_parts() if part is not text]
    summary = [f"[{_described(part)}]" for part in others if isinstance(part, EmailMessage)]
    return "\n".join([RULE, *lines, "", body, *(["", *summary] if summary else []), RULE])


def _described(part: EmailMessage) -> str:
    kind = part.get_content_type()
    if kind == "text/calendar":
        return f"{kind} (method {part.get_param('method') or '?'}): a calendar invitation, attached"
    return f"{kind}: {len(part.get_content())} characters, not shown here"
