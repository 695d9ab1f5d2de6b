"""Branding an organisation in the back office, on both engines: the accent colour (format and contrast checked),
the logo (PNG, JPEG or WebP by its bytes, size and dimensions checked, re-encoded), its removal, who may, the audit."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from tests.admin.helpers import audit_entries, count
from tests.branding_images import branding_path, image, set_colour, upload
from tests.conftest import csrf_for, login_staff
from tests.webinar.test_no_english import english_in, visible_text
from webinar.branding.logo import MAX_BYTES
from webinar.db import DB
from webinar.tables import organisation_branding

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


async def _stored(db: DB, org_id: int) -> Any:
    async with db.connection() as conn:
        return await conn.fetch_one(
            organisation_branding.select().where(organisation_branding.c.organisation_id == org_id)
        )


async def test_an_operator_sets_a_readable_accent_colour_and_it_is_audited(
    operator_client: Any, db: DB, create_organisation: Any
) -> None:
    http = await operator_client()
    org_id = await create_organisation()
    response = await set_colour(http, org_id, " #0B6E4F ")
    assert response.status_code == 303 and response.headers["location"].endswith("/branding?saved=colour")
    assert (await _stored(db, org_id))["accent_colour"] == "#0b6e4f"
    page = await http.get(response.headers["location"])
    assert "The accent colour is saved." in page.text and 'value="#0b6e4f"' in page.text
    assert [e["accent_colour"] for e in await audit_entries(db, "branding.colour")] == ["#0b6e4f"]
    assert (await set_colour(http, org_id, "")).status_code == 303  # empty: the platform's own again
    assert (await _stored(db, org_id))["accent_colour"] is None


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("green", "# and six hexadecimal digits"),
        ("#0b6e4", "# and six hexadecimal digits"),
        ("#0b6e4fff", "# and six hexadecimal digits"),
        ("#ffd400", "contrast of 1.4:1"),  # yellow: white on it cannot be read
        ("#4a90e2", "A darker shade of it that is: #"),
    ],
)
async def test_a_bad_or_unreadable_colour_is_refused_and_nothing_is_stored(
    operator_client: Any, db: DB, create_organisation: Any, typed: str, says: str
) -> None:
    http = await operator_client()
    org_id = await create_organisation()
    response = await set_colour(http, org_id, typed)
    assert response.status_code == 422 and says in response.text
    assert 'id="accent_colour-error"' in response.text and "error-summary" in response.text
    assert await count(db, organisation_branding) == 0
    assert await audit_entries(db, "branding.colour") == []


async def test_the_suggested_darker_shade_is_accepted(operator_client: Any, create_organisation: Any) -> None:
    http = await operator_client()
    org_id = await create_organisation()
    refused = await set_colour(http, org_id, "#4a90e2")
    shade = re.search(r"A darker shade of it that is: (#[0-9a-f]{6})", refused.text)
    assert shade is not None
    assert (await set_colour(http, org_id, shade.group(1))).status_code == 303


async def test_an_uploaded_logo_is_stored_re_encoded_and_served_with_a_long_cache(
    operator_client: Any, db: DB, create_organisation: Any
) -> None:
    http = await operator_client()
    org_id = await create_organisation()
    exif = Image.Exif()
    exif[0x010E] = "secret description"  # ImageDescription
    sent = image("JPEG", exif=exif)
    response = await upload(http, org_id, sent, "logo.jpg", "image/jpeg")
    assert response.status_code == 303 and response.headers["location"].endswith("saved=logo")
    row = await _stored(db, org_id)
    assert row["logo_type"] == "image/jpeg" and (row["logo_width"], row["logo_height"]) == (120, 40)
    assert b"secret description" in sent and b"secret description" not in bytes(row["logo"])  # metadata dropped
    page = (await http.get(branding_path(org_id))).text
    src = re.search(r'<img class="org-logo" src="http://testserver(/brand/[^"]+)"', page)
    assert src is not None and src.group(1) == f"/brand/{org_id}/logo-{row['logo_sha256'][:16]}.jpg"
    served = await http.get(src.group(1))
    assert served.status_code == 200 and served.content == bytes(row["logo"])
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "sandbox" in served.headers["content-security-policy"]
    [entry] = await audit_entries(db, "branding.logo")
    assert entry["type"] == "image/jpeg" and entry["size"] == "120×40"
    assert (await http.get(f"/brand/{org_id}/logo-{'0' * 16}.jpg")).status_code == 404  # another hash
    assert (await http.get(src.group(1).replace(".jpg", ".png"))).status_code == 404


@pytest.mark.parametrize(("fmt", "kind"), [("PNG", "image/png"), ("WEBP", "image/webp")])
async def test_png_and_webp_logos_are_taken_in_their_own_format(
    operator_client: Any, db: DB, create_organisation: Any, fmt: str, kind: str
) -> None:
    http = await operator_client()
    org_id = await create_organisation()
    response = await upload(http, org_id, image(fmt), "logo", "application/octet-stream")  # the bytes decide
    assert response.status_code == 303
    row = await _stored(db, org_id)
    assert row["logo_type"] == kind
    assert Image.open(io.BytesIO(bytes(row["logo"]))).format == fmt


def _garbage_png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"garbage, not an image" * 20


def _truncated_png() -> bytes:
    whole = image("PNG", size=(400, 400))
    return whole[: len(whole) // 2]


@pytest.mark.parametrize(
    ("data", "name", "kind", "says"),
    [
        (SVG, "logo.svg", "image/svg+xml", "SVG and other formats are not accepted"),
        (b"GIF89a" + b"\x00" * 100, "logo.gif", "image/gif", "must be a PNG, JPEG or WebP"),
        (b"%PDF-1.7 not a logo", "logo.png", "image/png", "must be a PNG, JPEG or WebP"),
        (_garbage_png(), "logo.png", "image/png", "not a readable PNG, JPEG or WebP image"),
        (_truncated_png(), "logo.png", "image/png", "not a readable PNG, JPEG or WebP image"),
        (image("PNG", size=(2400, 100)), "wide.png", "image/png", "this one is 2400 × 100"),
        (image("PNG", size=(8, 8)), "tiny.png", "image/png", "between 16 and 2000 pixels"),
        (b"", "empty.png", "image/png", "Choose an image file to upload."),
    ],
)
async def test_an_upload_that_is_not_a_logo_we_take_is_refused_and_nothing_is_stored(
    operator_client: Any, db: DB, create_organisation: Any, data: bytes, name: str, kind: str, says: str
) -> None:
    http = await operator_client()
    org_id = await create_organisation()
    response = await upload(http, org_id, data, name, kind)
    assert response.status_code == 422, response.text[:300]
    assert says in response.text and 'id="logo-error"' in response.text
    assert await count(db, organisation_branding) == 0
    assert await audit_entries(db, "branding.logo") == []


async def test_a_logo_over_the_size_limit_is_refused_in_words(
    operator_client: Any, db: DB, create_organisation: Any
) -> None:
    http = await operator_client()
    org_id = await create_organisation()
    big = image("PNG", size=(16, 16))
    big += b"\x00" * (MAX_BYTES + 1 - len(big))  # a real PNG, then padding past the limit
    response = await upload(http, org_id, big)
    assert response.status_code == 422 and "larger than 512 KB" in response.text
    assert await count(db, organisation_branding) == 0


async def test_removing_the_logo_takes_it_off_and_its_address_goes(
    operator_client: Any, db: DB, create_organisation: Any
) -> None:
    http = await operator_client()
    org_id = await create_organisation()
    assert (await set_colour(http, org_id, "#0b6e4f")).status_code == 303
    assert (await upload(http, org_id, image())).status_code == 303
    address = f"/brand/{org_id}/logo-{(await _stored(db, org_id))['logo_sha256'][:16]}.png"
    assert (await http.get(address)).status_code == 200
    token = await csrf_for(http, branding_path(org_id))
    response = await http.post(branding_path(org_id, "/logo/remove"), data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"].endswith("saved=removed")
    row = await _stored(db, org_id)
    assert row["logo"] is None and row["logo_sha256"] is None and row["accent_colour"] == "#0b6e4f"  # colour kept
    assert (await http.get(address)).status_code == 404
    page = (await http.get(response.headers["location"])).text
    assert "The logo is removed." in page and "org-logo" not in page
    assert len(await audit_entries(db, "branding.logo_removed")) == 1
    await http.post(branding_path(org_id, "/logo/remove"), data={"csrf_token": token})  # again: nothing to audit
    assert len(await audit_entries(db, "branding.logo_removed")) == 1


async def test_an_organiser_brands_their_own_organisation_only(
    app: Any, db: DB, create_organisation: Any, create_staff: Any
) -> None:
    own, other = await create_organisation(), await create_organisation()
    user = await create_staff("organiser", own)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50011))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await login_staff(http, user.email)).status_code == 303
        assert f'href="http://testserver{branding_path(own)}"' in (await http.get("/admin/")).text  # in the nav
        assert (await set_colour(http, own, "#0b6e4f")).status_code == 303
        assert (await http.get(branding_path(other))).status_code == 404
        token = await csrf_for(http, branding_path(own))
        refused = await http.post(
            branding_path(other, "/colour"), data={"csrf_token": token, "accent_colour": "#000000"}
        )
        assert refused.status_code == 404
        assert (await http.post(branding_path(other, "/logo/remove"), data={"csrf_token": token})).status_code == 404
    async with db.connection() as conn:
        rows = await conn.fetch_all(sa.select(organisation_branding.c.organisation_id))
    assert [r[0] for r in rows] == [own]
    [entry] = await audit_entries(db, "branding.colour")
    assert entry["_actor"] == user.email


async def test_a_romanian_operator_reads_the_page_its_refusals_and_the_audit_log_in_romanian(
    operator_client: Any, db: DB, create_organisation: Any
) -> None:
    http = await operator_client()
    token = await csrf_for(http, "/admin/")
    assert (await http.post("/admin/account/language", data={"language": "ro", "csrf_token": token})).status_code == 303
    org_id = await create_organisation()
    assert (await upload(http, org_id, image())).status_code == 303
    assert (await set_colour(http, org_id, "#0b6e4f")).status_code == 303
    pages = {
        "page": (await http.get(branding_path(org_id))).text,
        "colour": (await set_colour(http, org_id, "#ffd400")).text,
        "svg": (await upload(http, org_id, SVG, "logo.svg", "image/svg+xml")).text,
        "audit": (await http.get("/admin/audit")).text,
    }
    assert "Textul alb pe această culoare are un contrast de 1.4:1" in pages["colour"]
    assert "SVG și alte formate nu sunt acceptate" in pages["svg"]
    assert "culoare de accent: <code>#0b6e4f</code>" in pages["audit"]
    assert "dimensiuni (pixeli): 120×40" in pages["audit"]
    assert {name: words for name, html in pages.items() if (words := english_in(visible_text(html)))} == {}
