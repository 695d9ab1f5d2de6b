"""The `webinar` command: serve, migrate, create-user, create-token, demo, worker, purge."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from webinar.settings import Settings, SettingsError, load_settings


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from webinar import migrate, serving

    if settings.is_sqlite and args.workers > 1:
        print("SQLite allows one writer: use --workers 1, or PostgreSQL (DATABASE_URL) for more.", file=sys.stderr)
        return 2
    if not migrate.is_current(settings.database_url):
        print("The database is not at the newest migration; run `webinar migrate` first.", file=sys.stderr)
        return 1
    return serving.serve(args.host, args.port, args.workers, settings.stop_grace_seconds)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from webinar import migrate

    before = asyncio.run(migrate.current_revision(settings.database_url)) if _exists(settings) else None
    migrate.upgrade(settings.database_url)
    head = migrate.head_revision()
    if before == head:
        print(f"Database is at migration {head}.")
    else:
        print(f"Database is at migration {head} (upgraded from {before or 'an empty database'}).")
    return 0


def _exists(settings: Settings) -> bool:
    """Whether there is a database to read yet (an SQLite file is made by the first migration)."""
    from pathlib import Path

    url = settings.database_url
    return not url.startswith("sqlite:///") or Path(url[len("sqlite:///") :]).exists()


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise SystemExit("The two passwords differ; nothing was created.")
    return first


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    from webinar.accounts.provisioning import create_staff_user

    password = _read_password()
    try:
        user_id = asyncio.run(create_staff_user(settings, args.email, password, args.role, args.organisation))
    except ValueError as exc:
        print(f"Not created: {exc}", file=sys.stderr)
        return 1
    print(f"Created {args.role} {args.email} (id {user_id}). Log in at {settings.base_url}/admin/login")
    return 0


def cmd_create_token(args: argparse.Namespace, settings: Settings) -> int:
    from webinar.api.tokens import create_from_cli

    try:
        token = asyncio.run(create_from_cli(settings, args.organisation, args.name))
    except ValueError as exc:
        print(f"Not created: {exc}", file=sys.stderr)
        return 1
    whose = f"organisation {args.organisation}" if args.organisation else "the platform (every organisation)"
    print(f"Created API token {args.name!r} for {whose}. It is shown this once; keep it secret:", file=sys.stderr)
    print(token)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from webinar.demo import create_demo

    print(asyncio.run(create_demo(settings)))
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from webinar.worker import run_worker

    return asyncio.run(run_worker(settings))


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from webinar.worker import run_purge

    print(asyncio.run(run_purge(settings)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webinar", description="Webinar and livestream registration platform.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the web application (with the background loops)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(func=cmd_migrate)
    user = sub.add_parser("create-user", help="create a staff account (password from stdin, or asked twice)")
    user.add_argument("--email", required=True)
    user.add_argument("--role", required=True, choices=["operator", "organiser"])
    user.add_argument("--organisation", metavar="SLUG", help="the organiser's organisation")
    user.set_defaults(func=cmd_create_user)
    token = sub.add_parser("create-token", help="create an API token and print it (shown once)")
    token.add_argument("--organisation", metavar="SLUG", help="its organisation (none: a platform-wide token)")
    token.add_argument("--name", required=True, help="what it is for, to tell tokens apart")
    token.set_defaults(func=cmd_create_token)
    sub.add_parser("demo", help="create the demo organisation, event and operator (once)").set_defaults(func=cmd_demo)
    sub.add_parser("worker", help="run the background loops only (mail, sweeper, retention)").set_defaults(
        func=cmd_worker
    )
    sub.add_parser("purge", help="erase registrations past their event's retention period").set_defaults(func=cmd_purge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from webinar.serving import configure_logging

    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
