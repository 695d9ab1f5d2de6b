"""Checking an uploaded logo: PNG, JPEG or WebP by its bytes (never by its name or declared type), small enough, and
re-encoded by Pillow so that what we serve is a plain image of ours (no metadata, no polyglot, no SVG script)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from anyio import to_thread
from PIL import Image, UnidentifiedImageError

from webinar.i18n import gettext as _

MAX_BYTES = 512 * 1024
MAX_SIDE = 2000  # pixels; a logo is shown 48 px high, and a larger one is a decompression bomb waiting
MIN_SIDE = 16
# Pillow's format name -> what we store and serve it as.
TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
# The first bytes of each accepted format: checked before Pillow parses anything.
MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF")


class LogoRefused(ValueError):
    """Why an upload is not a logo we take, in words for the person who sent it."""


@dataclass(frozen=True)
class Logo:
    data: bytes
    content_type: str
    sha256: str
    width: int
    height: int


def _opened(data: bytes) -> Image.Image:
    if not data:
        raise LogoRefused(_("Choose an image file to upload."))
    if len(data) > MAX_BYTES:
        raise LogoRefused(_("The logo is larger than %(most)s KB: make it smaller.") % {"most": MAX_BYTES // 1024})
    if not data.startswith(MAGIC) or (data.startswith(b"RIFF") and data[8:12] != b"WEBP"):
        raise LogoRefused(_("The logo must be a PNG, JPEG or WebP image (SVG and other formats are not accepted)."))
    try:  # the header only: a bomb's dimensions are refused below before anything is decoded
        image = Image.open(io.BytesIO(data), formats=list(TYPES))
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError, OSError) as e:
        raise LogoRefused(_("This file is not a readable PNG, JPEG or WebP image.")) from e
    return image


def checked(data: bytes) -> Logo:
    """The logo to store for these uploaded bytes, re-encoded in its own format; LogoRefused says why not."""
    image = _opened(data)
    width, height = image.size
    if max(width, height) > MAX_SIDE or min(width, height) < MIN_SIDE:
        raise LogoRefused(
            _("The logo must be between %(least)s and %(most)s pixels on each side; this one is %(w)s × %(h)s.")
            % {"least": MIN_SIDE, "most": MAX_SIDE, "w": width, "h": height}
        )
    kind = TYPES[str(image.format)]
    try:
        image.load()  # the whole image decoded: a valid header on garbage fails here
        encoded = _encoded(image, str(image.format))
    except (OSError, ValueError, SyntaxError) as e:
        raise LogoRefused(_("This file is not a readable PNG, JPEG or WebP image.")) from e
    return Logo(encoded, kind, hashlib.sha256(encoded).hexdigest(), width, height)


def _encoded(image: Image.Image, fmt: str) -> bytes:
    """The image written again by Pillow, without its metadata (EXIF, comments, text chunks)."""
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=90)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=90)
    else:
        keep = image if image.mode in ("RGB", "RGBA", "L", "LA", "P") else image.convert("RGBA")
        keep.save(out, "PNG", optimize=True)
    return out.getvalue()


async def checked_off_loop(data: bytes) -> Logo:
    """`checked`, in a worker thread: decoding and re-encoding an image would hold up every other request."""
    return await to_thread.run_sync(checked, data)
