"""Settings: the one place that reads the environment (SPEC §9)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from starlette.config import Config, Environ
from starlette.datastructures import CommaSeparatedStrings, Secret

PROJECT_ROOT = Path(__file__).resolve().parent.parent


MIN_SECRET_LENGTH = 32


class SettingsError(SystemExit):
    """Raised (and printed as one line) when the configuration cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Typed configuration of one running platform."""

    database_url: str
    secret_key: Secret
    base_url: str = "http://127.0.0.1:8000"
    mail_backend: str = "console"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: Secret = Secret("")  # noqa: RUF009 - Secret is immutable
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout: float = 10.0
    # How many messages the sender delivers at once, each over its own SMTP connection, reused message after message.
    smtp_connections: int = 4
    mail_from: str = "Webinar <no-reply@localhost>"
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    https_only: bool = False
    var_dir: Path = PROJECT_ROOT / "var"
    debug: bool = False
    # Background loops (mail sender, viewing-session sweeper, retention) inside the web process.
    run_background: bool = True
    session_idle_minutes: int = 120
    session_max_hours: int = 24 * 7
    # Staff sessions open the back office (every organisation's data, for an operator): shorter lives.
    staff_session_idle_minutes: int = 30
    staff_session_max_hours: int = 12
    # Operators may not use the back office before they turn on two-factor sign-in (admin/twofactor.py).
    require_staff_2fa: bool = False
    max_body_bytes: int = 1024 * 1024
    max_form_fields: int = 100
    db_timeout_seconds: float = 5.0
    presence_timeout_seconds: int = 90
    heartbeat_seconds: int = 30
    # How often each worker asks which of its presence channels lost their access (docs/security.md).
    revocation_poll_seconds: float = 2.0
    # How long a presence check waits for its answer (SPEC §13: 60 s); shortened only by the browser tests.
    presence_check_seconds: int = 60
    # The outbox sender's first retry delay (it doubles per attempt, up to an hour); shortened by fault tests.
    mail_retry_seconds: float = 20.0
    # Multiplies every per-IP and per-account rate limit; >1 only for load tests and scanners on scratch instances.
    rate_limit_scale: float = 1.0
    processor_name: str = ""  # empty: the privacy notice says "the platform operator" in the page's language
    # How long a stop (SIGTERM, SIGINT) waits for the requests in flight and the open WebSockets (docs/deploy.md).
    stop_grace_seconds: float = 10.0
    # Webhooks may target private, loopback and link-local addresses (SPEC §14): for tests and closed networks only.
    webhook_allow_private: bool = False
    # The webhook sender's first retry delay (it doubles per attempt, up to WEBHOOK_RETRY_MOST); shortened by tests.
    webhook_retry_seconds: float = 30.0
    # Proof of work (SPEC §15, docs/crowds.md): past `pow_threshold` registrations (or logins, or link requests) from
    # one address for one event in 10 minutes, each needs a solved ALTCHA challenge of up to `pow_base_number`
    # numbers, doubled for every `pow_doubling` more, at most `pow_max_number`.
    pow_threshold: int = 20
    pow_base_number: int = 20_000
    pow_doubling: int = 50
    pow_max_number: int = 1_000_000
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def __post_init__(self) -> None:
        if len(str(self.secret_key)) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"SECRET_KEY is too short (at least {MIN_SECRET_LENGTH} characters); refusing to start."
            )

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some values changed (tests, the CLI)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _parse_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in CommaSeparatedStrings(value))
    except ValueError as exc:
        raise SettingsError(f"TRUSTED_PROXIES: {exc}") from exc


STOP_GRACE_RANGE = (1.0, 300.0)


def _stop_grace(value: str) -> float:
    """STOP_GRACE_SECONDS: a number of seconds from 1 to 300."""
    low, high = STOP_GRACE_RANGE
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not low <= seconds <= high:  # NaN and infinities fail this too
        raise SettingsError(f"STOP_GRACE_SECONDS must be a number of seconds from {low:g} to {high:g}, not {value!r}.")
    return seconds


def _local_secret(var_dir: Path) -> str:
    """The generated secret kept under var/ for local use, created on first need."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment (or the given mapping)."""
    env = Environ(dict(os.environ if environ is None else environ))
    config = Config(environ=env)
    var_dir = Path(config("WEBINAR_VAR_DIR", default=str(PROJECT_ROOT / "var")))
    https_only = config("HTTPS_ONLY", cast=bool, default=False)
    secret = Secret(config("SECRET_KEY", default=""))
    if not str(secret):
        if https_only:
            raise SettingsError(
                "SECRET_KEY must be set to a long random value when HTTPS_ONLY=true; refusing to start."
            )
        secret = Secret(_local_secret(var_dir))
    elif len(str(secret)) < MIN_SECRET_LENGTH:
        # Whatever HTTPS_ONLY says: the key signs sessions and join links and keys the rate limits' HMACs.
        raise SettingsError(
            f"SECRET_KEY is too short (at least {MIN_SECRET_LENGTH} characters; "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))' makes one); refusing to start."
        )
    backend = config("MAIL_BACKEND", default="console")
    if backend not in ("console", "smtp"):
        raise SettingsError(f"MAIL_BACKEND must be 'console' or 'smtp', not {backend!r}.")
    return Settings(
        database_url=config("DATABASE_URL", default=f"sqlite:///{var_dir / 'webinar.db'}"),
        secret_key=secret,
        base_url=config("BASE_URL", default="http://127.0.0.1:8000").rstrip("/"),
        mail_backend=backend,
        smtp_host=config("SMTP_HOST", default="localhost"),
        smtp_port=config("SMTP_PORT", cast=int, default=25),
        smtp_username=config("SMTP_USERNAME", default=""),
        smtp_password=Secret(config("SMTP_PASSWORD", default="")),
        smtp_starttls=config("SMTP_STARTTLS", cast=bool, default=False),
        smtp_ssl=config("SMTP_SSL", cast=bool, default=False),
        smtp_connections=max(1, min(32, config("SMTP_CONNECTIONS", cast=int, default=4))),
        mail_from=config("MAIL_FROM", default="Webinar <no-reply@localhost>"),
        trusted_proxies=_parse_networks(config("TRUSTED_PROXIES", default="")),
        https_only=https_only,
        var_dir=var_dir,
        debug=config("DEBUG", cast=bool, default=False),
        run_background=config("WEBINAR_BACKGROUND", cast=bool, default=True),
        processor_name=config("PROCESSOR_NAME", default=""),
        # Viewing-session timing (SPEC §4: 90 s); shortened only by tests that kill a server.
        presence_timeout_seconds=config("PRESENCE_TIMEOUT_SECONDS", cast=int, default=90),
        heartbeat_seconds=config("HEARTBEAT_SECONDS", cast=int, default=30),
        revocation_poll_seconds=max(0.1, config("REVOCATION_POLL_SECONDS", cast=float, default=2.0)),
        presence_check_seconds=config("PRESENCE_CHECK_SECONDS", cast=int, default=60),
        mail_retry_seconds=config("MAIL_RETRY_SECONDS", cast=float, default=20.0),
        rate_limit_scale=config("RATE_LIMIT_SCALE", cast=float, default=1.0),
        stop_grace_seconds=_stop_grace(config("STOP_GRACE_SECONDS", default="10")),
        session_idle_minutes=_positive(config, "SESSION_IDLE_MINUTES", 120),
        session_max_hours=_positive(config, "SESSION_MAX_HOURS", 24 * 7),
        staff_session_idle_minutes=_positive(config, "STAFF_SESSION_IDLE_MINUTES", 30),
        staff_session_max_hours=_positive(config, "STAFF_SESSION_MAX_HOURS", 12),
        require_staff_2fa=config("REQUIRE_STAFF_2FA", cast=bool, default=False),
        webhook_allow_private=config("WEBHOOK_ALLOW_PRIVATE", cast=bool, default=False),
        webhook_retry_seconds=config("WEBHOOK_RETRY_SECONDS", cast=float, default=30.0),
        pow_threshold=max(0, config("POW_THRESHOLD", cast=int, default=20)),
        pow_base_number=max(1, config("POW_BASE_NUMBER", cast=int, default=20_000)),
        pow_doubling=max(1, config("POW_DOUBLING", cast=int, default=50)),
        pow_max_number=max(1, config("POW_MAX_NUMBER", cast=int, default=1_000_000)),
    )


def _positive(config: Config, name: str, default: int) -> int:
    value: int = config(name, cast=int, default=default)
    if value < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, not {value}.")
    return value
