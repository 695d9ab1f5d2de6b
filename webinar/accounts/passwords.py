"""Argon2id password hashing, off the event loop and with a cap on concurrent hashes."""

from __future__ import annotations

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are RFC 9106's "low memory" Argon2id profile.
_hasher = PasswordHasher()
# Hashing costs ~50 ms of CPU and 64 MiB; two at a time keeps the event loop and memory healthy.
_limiter = anyio.CapacityLimiter(2)
# A real hash of a random password, verified when the account does not exist so timing does not tell.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


async def hash_password(password: str) -> str:
    """The Argon2id hash of a password."""
    return await anyio.to_thread.run_sync(_hasher.hash, password, limiter=_limiter)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; spends the same work when there is no hash to check."""

    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(_verify, limiter=_limiter)
