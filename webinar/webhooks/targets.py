"""Where a webhook may go: http(s) to a public address, checked after DNS resolution (SSRF: never a private,
loopback, link-local or metadata address) unless WEBHOOK_ALLOW_PRIVATE (tests)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

RESOLVE_SECONDS = 5.0


def _shape(url: str) -> tuple[str, int] | str:
    """The host and port of a well-formed target, or why it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if any(ord(c) <= 32 for c in url):
        return "must not contain spaces or control characters"
    return parts.hostname, port


def is_public(address: str) -> bool:
    """Whether an IP address is a public one (not private, loopback, link-local, reserved or multicast)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def refusal(url: str, allow_private: bool) -> str | None:
    """Why a webhook may not go to `url` now (its form, or an address it resolves to), or None."""
    shape = _shape(url)
    if isinstance(shape, str):
        return shape
    if allow_private:
        return None
    host, port = shape
    try:
        found = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_SECONDS
        )
    except (OSError, TimeoutError, UnicodeError):
        return "does not resolve to an address"
    addresses = {info[4][0] for info in found}
    if not addresses or not all(is_public(str(a)) for a in addresses):
        return "resolves to a private, loopback or link-local address"
    return None
