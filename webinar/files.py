"""Files only their owner may read: the SQLite database, the demo's login, the local secret (docs/security.md)."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o600


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable and writable by the owner only, whatever the umask or the file's old mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), PRIVATE)  # a file written before by something else keeps no wider mode
        fh.write(text)


def create_private(path: Path) -> None:
    """Create `path` empty and owner-only when it does not exist yet (SQLite then opens it, and gives its -wal and
    -shm files the same mode); an existing file is left as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    except FileExistsError:
        pass


def sqlite_file(database_url: str) -> Path | None:
    """The file of a `sqlite:///path` database; None for PostgreSQL or an in-memory database."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or database_url[len(prefix) :] in ("", ":memory:"):
        return None
    return Path(database_url[len(prefix) :])
