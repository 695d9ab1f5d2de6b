"""SQL for organisations' branding, returning frozen dataclasses (the logo's bytes only where they are served)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases.core import Connection

from webinar.branding.logo import EXTENSIONS
from webinar.tables import organisation_branding as ob
from webinar.tables import organisations

DIGEST_IN_URL = 16  # hex characters of the logo's SHA-256 in its URL: a new logo is a new URL


EMAIL_LOGO_HEIGHT, EMAIL_LOGO_WIDTH = 48, 240  # pixels, as the header of the pages (static/css/site.css .org-logo)


@dataclass(frozen=True)
class EmailLogo:
    """The logo in the HTML part of an e-mail (templates/emails/base.html)."""

    url: str
    alt: str
    width: int
    height: int


def logo_name(sha256: str, content_type: str) -> str:
    """A logo's file name in its URL: its hash (a new logo is a new address) and its type's extension."""
    return f"logo-{sha256[:DIGEST_IN_URL]}.{EXTENSIONS[content_type]}"


@dataclass(frozen=True)
class Brand:
    """What a page needs of an organisation's branding: its colour and its logo's address, never the bytes."""

    organisation_id: int
    organisation_name: str  # the logo's text alternative
    accent_colour: str | None
    logo_type: str | None
    logo_sha256: str | None
    logo_width: int | None
    logo_height: int | None

    @property
    def logo_name(self) -> str | None:
        """The logo's file name in its URL (`/brand/{organisation_id}/{logo_name}`), None without a logo."""
        if self.logo_sha256 is None or self.logo_type is None:
            return None
        return logo_name(self.logo_sha256, self.logo_type)

    def email_logo(self, base_url: str) -> EmailLogo | None:
        """The logo as an e-mail shows it: an https address of ours (mail readers load no other, and a plain http
        one would tell the network who reads), sized for 48 pixels high; None without a logo or https."""
        if self.logo_name is None or not base_url.startswith("https://") or not self.logo_width or not self.logo_height:
            return None
        height = min(EMAIL_LOGO_HEIGHT, self.logo_height)
        width = round(self.logo_width * height / self.logo_height)
        if width > EMAIL_LOGO_WIDTH:  # a wide logo: as wide as it may be instead
            width, height = EMAIL_LOGO_WIDTH, max(1, round(self.logo_height * EMAIL_LOGO_WIDTH / self.logo_width))
        url = f"{base_url}/brand/{self.organisation_id}/{self.logo_name}"
        return EmailLogo(url, self.organisation_name, width, height)

    @property
    def empty(self) -> bool:
        return self.accent_colour is None and self.logo_name is None


COLUMNS = (ob.c.organisation_id, ob.c.accent_colour, ob.c.logo_type, ob.c.logo_sha256, ob.c.logo_width,
           ob.c.logo_height)  # fmt: skip


async def of_organisation(conn: Connection, organisation_id: int) -> Brand | None:
    """The organisation's branding (None when it has none)."""
    query = (
        sa.select(*COLUMNS, organisations.c.name.label("organisation_name"))
        .join(organisations, organisations.c.id == ob.c.organisation_id)
        .where(ob.c.organisation_id == organisation_id)
    )
    row = await conn.fetch_one(query)
    return None if row is None else brand_of(row, row["organisation_name"])


def brand_of(row: Any, organisation_name: str, prefix: str = "") -> Brand | None:
    """The branding in a row holding COLUMNS (each named `prefix` + its name), None when it sets nothing."""
    brand = Brand(organisation_name=organisation_name, **{c.name: row[prefix + c.name] for c in COLUMNS})
    return None if brand.empty else brand


@dataclass(frozen=True)
class StoredLogo:
    data: bytes
    content_type: str
    sha256: str

    @property
    def name(self) -> str:
        return logo_name(self.sha256, self.content_type)


async def logo(conn: Connection, organisation_id: int) -> StoredLogo | None:
    """The organisation's logo, its bytes and type (None when it has none)."""
    row = await conn.fetch_one(
        sa.select(ob.c.logo, ob.c.logo_type, ob.c.logo_sha256).where(
            ob.c.organisation_id == organisation_id, ob.c.logo.is_not(None)
        )
    )
    return StoredLogo(bytes(row["logo"]), row["logo_type"], row["logo_sha256"]) if row else None
