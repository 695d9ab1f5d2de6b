"""Certificate numbers: `{series}-{n}-{code}`, n in the order issued, code random (the verification address)."""

from __future__ import annotations

import re
import secrets

# Crockford's base32 without I, L, O, U: no letter read as a digit when someone types the number from paper.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8  # 40 random bits: guessing one valid number of an event takes about a trillion tries
NUMBER_RE = re.compile(rf"^[A-Za-z0-9/-]{{1,40}}-[1-9][0-9]{{0,8}}-[{ALPHABET}]{{{CODE_LENGTH}}}$")
LONGEST = 40 + 1 + 9 + 1 + CODE_LENGTH


def new_code() -> str:
    """A fresh random check code."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def number(series: str, sequence: int, code: str) -> str:
    """The certificate's number as printed, registered and verified."""
    return f"{series}-{sequence}-{code}"


def well_formed(value: str) -> bool:
    """Whether `value` can be a certificate number at all (anything else is a 404 without a query)."""
    return len(value) <= LONGEST and NUMBER_RE.match(value) is not None
