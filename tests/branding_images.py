"""Images made in memory for the branding tests (Pillow), and the upload helper that posts one."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from tests.conftest import csrf_for


def image(fmt: str = "PNG", size: tuple[int, int] = (120, 40), colour: str = "#0b6e4f", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt, **save)
    return out.getvalue()


def branding_path(org_id: int, more: str = "") -> str:
    return f"/admin/organisations/{org_id}/branding{more}"


async def upload(
    http: httpx.AsyncClient, org_id: int, data: bytes, name: str = "logo.png", kind: str = "image/png"
) -> httpx.Response:
    token = await csrf_for(http, branding_path(org_id))
    return await http.post(
        branding_path(org_id, "/logo"), data={"csrf_token": token}, files={"logo": (name, data, kind)}
    )


async def set_colour(http: httpx.AsyncClient, org_id: int, colour: str) -> httpx.Response:
    token = await csrf_for(http, branding_path(org_id))
    return await http.post(branding_path(org_id, "/colour"), data={"csrf_token": token, "accent_colour": colour})
