"""The `webinar` command as a person uses it: migrate, demo, create-user, and refusing a bad configuration."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.conftest import login_staff
from webinar.accounts import staff
from webinar.demo import DEMO_SLUG, DEMO_STREAM_PATH
from webinar.migrate import head_revision as head
from webinar.tables import events

WEBINAR = [sys.executable, "-m", "webinar.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(WEBINAR + args, env=env, input=stdin, capture_output=True, text=True, timeout=60)


def cli_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "HTTPS_ONLY", "DATABASE_URL")}
    env.update(DATABASE_URL=database_url, WEBINAR_VAR_DIR=str(tmp_path / "cli-var"), **extra)
    return env


def test_https_only_without_secret_key_refuses_to_start(tmp_path: Path) -> None:
    result = run(["migrate"], cli_env(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, HTTPS_ONLY="true"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "SECRET_KEY" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_migrate_and_demo_print_only_what_a_person_reads(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'var' / 'new.db'}", tmp_path)
    first = run(["migrate"], env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines() == [
        f"Database is at migration {head()} (upgraded from an empty database)."
    ]
    again = run(["migrate"], env)
    assert again.stdout.strip().splitlines() == [f"Database is at migration {head()}."]
    demo = run(["demo"], env)
    for result in (first, again, demo):
        assert "alembic" not in result.stderr and "INFO" not in result.stderr, result.stderr
    assert demo.stdout.startswith("Demo created.")


def test_make_run_installs_only_what_running_needs(tmp_path: Path) -> None:
    for name in ("Makefile", "pyproject.toml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    dry = {
        target: subprocess.run(["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
        for target in ("run", "test")
    }
    assert "install --quiet" in dry["run"] and "-e ." in dry["run"]
    assert "[test" not in dry["run"] and "lint]" not in dry["run"]
    assert "-e '.[test,lint]'" in dry["test"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(extras["dependencies"])
    assert not any(tool in runtime for tool in ("playwright", "mypy", "ruff", "pytest"))


def test_local_secret_key_is_generated_once_under_var(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    assert run(["migrate"], env).returncode == 0
    key_file = tmp_path / "cli-var" / "secret_key"
    first = key_file.read_text()
    assert len(first.strip()) >= 48
    assert run(["migrate"], env).returncode == 0
    assert key_file.read_text() == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


async def test_demo_is_created_once_and_its_operator_can_log_in(
    database_url: str, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    env = cli_env(database_url, tmp_path)
    first = run(["demo"], env)
    assert first.returncode == 0, first.stderr
    assert "Demo created" in first.stdout
    password = first.stdout.split("Password:")[1].split()[0]
    second = run(["demo"], env)
    assert "already exists" in second.stdout
    home = await client.get("/")
    assert "Webinar demonstrativ" in home.text
    event = await client.get("/events/webinar-demo")
    assert event.status_code == 200
    response = await login_staff(client, "operator@demo.example", password)
    assert response.status_code == 303


async def test_the_demo_event_streams_the_sample_served_with_the_static_files(
    database_url: str, tmp_path: Path, client: httpx.AsyncClient, db
) -> None:
    env = cli_env(database_url, tmp_path, BASE_URL="http://127.0.0.1:8123")
    assert run(["demo"], env).returncode == 0
    async with db.connection() as conn:
        stream_url = await conn.fetch_val(sa.select(events.c.stream_url).where(events.c.slug == DEMO_SLUG))
    assert stream_url == "http://127.0.0.1:8123" + DEMO_STREAM_PATH
    playlist = await client.get(DEMO_STREAM_PATH)
    assert playlist.status_code == 200 and playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    lines = playlist.text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    parts = ["init.mp4", *(line for line in lines if line and not line.startswith("#"))]
    assert len(parts) >= 4
    for part in parts:
        response = await client.get(DEMO_STREAM_PATH.rsplit("/", 1)[0] + "/" + part)
        assert response.status_code == 200 and len(response.content) > 1000, part


async def test_create_user_reads_the_password_from_stdin(
    database_url: str, tmp_path: Path, client: httpx.AsyncClient, create_organisation, db
) -> None:
    env = cli_env(database_url, tmp_path)
    await create_organisation(slug="acme")
    ok = run(
        ["create-user", "--email", "Ana@Example.org", "--role", "organiser", "--organisation", "acme"],
        env,
        stdin="a long enough password\n",
    )
    assert ok.returncode == 0, ok.stderr
    duplicate = run(
        ["create-user", "--email", "ana@example.org", "--role", "operator"], env, stdin="a long enough password\n"
    )
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    short = run(["create-user", "--email", "bob@example.org", "--role", "operator"], env, stdin="short\n")
    assert short.returncode == 1 and "12 characters" in short.stderr
    no_org = run(["create-user", "--email", "c@example.org", "--role", "organiser"], env, stdin="x" * 20 + "\n")
    assert no_org.returncode == 1 and "--organisation" in no_org.stderr
    response = await login_staff(client, "ana@example.org", "a long enough password")
    assert response.status_code == 303
    async with db.connection() as conn:
        assert not await staff.email_taken(conn, "bob@example.org")
        assert not await staff.email_taken(conn, "c@example.org")


def test_a_short_secret_key_refuses_to_start_even_without_https(tmp_path: Path) -> None:
    result = run(["migrate"], cli_env(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, SECRET_KEY="changeme"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "SECRET_KEY is too short" in result.stderr
    assert not (tmp_path / "x.db").exists()
