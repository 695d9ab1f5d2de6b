"""Which sites may frame an event's registration form (SPEC §14): its `embed_origins`, read, checked and sent as CSP."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from webinar.i18n import gettext as _

MOST_ORIGINS = 20
MOST_LENGTH = 200
# Plain http only where nobody else can listen in: a developer's own machine.
LOCAL_HOSTS = ("localhost", "127.0.0.1")
DEFAULT_PORTS = {"http": 80, "https": 443}
# A DNS name: letters, digits and inner hyphens between dots. Nothing else may reach the CSP header, where a space,
# ';' or ',' would start another source or directive.
HOST_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")
NOWHERE = "'none'"


def origin(line: str) -> str | None:
    """The origin a line names, as browsers write it (lower case, no default port), or None when it is not one:
    https (http only for localhost), a host, an optional port, and no user, path, query or fragment."""
    if len(line) > MOST_LENGTH or not line.isascii() or any(ch.isspace() for ch in line):
        return None
    parts = urlsplit(line)
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme not in ("https", "http") or (scheme == "http" and host not in LOCAL_HOSTS):
        return None
    if "@" in parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment or "?" in line:
        return None
    if not HOST_RE.fullmatch(host) or line.endswith(":"):
        return None
    return f"{scheme}://{host}" if port in (None, DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def parse_origins(value: str) -> tuple[str, str | None]:
    """The event form's `embed_origins`: one origin per line, blank lines ignored → (the normalised list, one per
    line and each once; the error to show beside the field, or None)."""
    found: list[str] = []
    for number, line in enumerate(value.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        named = origin(line)
        if named is None:
            return value, _(
                "Line %(n)s is not a site address. Write one per line, like https://www.example.ro: https, the host "
                "and, if needed, a port, without a path (http only for localhost)."
            ) % {"n": number}
        if named not in found:
            found.append(named)
    if len(found) > MOST_ORIGINS:
        return value, _("List at most %(n)s sites.") % {"n": MOST_ORIGINS}
    return "\n".join(found), None


def origins(embed_origins: str) -> tuple[str, ...]:
    """The stored origins of an event (validated and normalised by the event form)."""
    return tuple(line for line in embed_origins.splitlines() if line)


def frame_ancestors(embed_origins: str) -> str:
    """The CSP `frame-ancestors` sources of an event's embed pages: its origins, or 'none' when it lists none."""
    return " ".join(origins(embed_origins)) or NOWHERE


# Sizes the frame to the form (static/js/embed.js posts its height): only messages from our origin, from that frame.
RESIZER = """<script>
addEventListener("message", (e) => {
  if (e.origin !== "%(origin)s" || typeof (e.data || {}).webinarEmbedHeight !== "number") return;
  for (const f of document.querySelectorAll("iframe.webinar-embed"))
    if (f.contentWindow === e.source) f.style.height = e.data.webinarEmbedHeight + "px";
});
</script>"""


def snippet(url: str, title: str) -> tuple[str, str]:
    """The HTML an organiser pastes into their page: the iframe of the embed page at `url`, and the optional script
    that sizes it to the form."""
    frame = (
        f'<iframe class="webinar-embed" src="{html.escape(url)}" title="{html.escape(title)}" '
        'style="width:100%;max-width:42rem;height:1200px;border:0" loading="lazy"></iframe>'
    )
    parts = urlsplit(url)
    return frame, RESIZER % {"origin": f"{parts.scheme}://{parts.netloc}"}
