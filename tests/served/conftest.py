"""Tests against the platform served by a real uvicorn on SQLite and PostgreSQL (the fault tests: PostgreSQL only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.conftest import Platform
from webinar.settings import Settings


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[Platform]:
    """Real `webinar serve` processes on the test database of either engine; all stopped at the end of the test."""
    log_dir = tmp_path / "processes"
    log_dir.mkdir()
    running = Platform(settings, log_dir)
    try:
        yield running
    finally:
        running.stop_all()
