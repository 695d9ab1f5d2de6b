"""The back office's event form: parse and validate → (EventInput | None, errors by field, values to re-show)."""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData

from webinar.attendance import checks
from webinar.events import embed
from webinar.events.queries import Consents, Event
from webinar.events.services import DEFAULT_CONSENT_TEXT, EventInput
from webinar.i18n import gettext as _
from webinar.i18n import ngettext
from webinar.registration.fields import CONFIGURABLE, default_modes
from webinar.tables import (
    CERTIFICATE_SERIES_LENGTH,
    DEFAULT_FOLLOWUP_MINUTES,
    DEFAULT_REMINDERS,
    FIELD_MODES,
    MOST_DEVICES,
    MOST_PRESENCE_CHECKS,
)
from webinar.web.forms import has_control_chars, text

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LOCAL_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?$")
LOCAL_TIME_FORMAT = "%Y-%m-%dT%H:%M"
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SERIES_RE = re.compile(r"^[A-Za-z0-9/-]+$")
DEFAULT_TIMEZONE = "Europe/Bucharest"
LANGUAGES = ("ro", "en")
APPROVALS = ("auto", "manual")
LOGINS = ("link", "link_and_password")
MODE_FIELDS = tuple(field.mode_column for field in CONFIGURABLE)  # field_job_title, …: the per-event choices
TIME_FIELDS = ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at")
LOCAL_HOSTS = ("127.0.0.1", "localhost")
NOT_ZONES = {"localtime", "Factory", "posixrules"}  # files of the system's zone directory, not places
YEARS = (2000, 2100)  # far enough either way; keeps time-zone arithmetic away from datetime's limits
MAX_REMINDERS = 10
MAX_REMINDER_MINUTES = 60 * 24 * 60  # 60 days before the start
MAX_FOLLOWUP_MINUTES = 60 * 24 * 7  # a week after the end


@functools.cache
def timezone_names() -> list[str]:
    """Every IANA time zone name this machine knows, sorted (for validation and the form's suggestions)."""
    return sorted(zoneinfo.available_timezones() - NOT_ZONES)


@functools.cache
def _timezone_set() -> frozenset[str]:
    return frozenset(timezone_names())


def is_timezone(name: str) -> bool:
    """Whether `name` is a known IANA time zone."""
    return name in _timezone_set()


def local_to_utc(value: str, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """A `YYYY-MM-DDTHH:MM` wall-clock time in `zone` as UTC; None when it does not exist there (spring forward).

    An ambiguous time (the repeated hour in autumn) is read as its first occurrence (fold=0).
    """
    naive = dt.datetime.fromisoformat(value)
    utc = naive.replace(tzinfo=zone, fold=0).astimezone(dt.UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return utc


def utc_to_local(value: dt.datetime | None, timezone: str) -> str:
    """A UTC time as the `datetime-local` value for the event's time zone ('' for None)."""
    return value.astimezone(zoneinfo.ZoneInfo(timezone)).strftime(LOCAL_TIME_FORMAT) if value else ""


class FieldReader:
    """Reads one submitted form field by field, keeping the raw values and an error per field."""

    def __init__(self, form: FormData) -> None:
        self.form = form
        self.errors: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def text(self, name: str, max_length: int, *, required: bool = True, multiline: bool = False) -> str:
        value = text(self.form, name)
        self.values[name] = value
        if has_control_chars(value, allow_newlines=multiline):
            self.errors[name] = _("Remove the control characters from this field.")
        elif required and not value:
            self.errors[name] = _("This field is required.")
        elif len(value) > max_length:
            self.errors[name] = ngettext(
                "Use at most %(n)s character.", "Use at most %(n)s characters.", max_length
            ) % {"n": max_length}
        return value

    def choice(self, name: str, options: Collection[str]) -> str:
        value = text(self.form, name)
        self.values[name] = value
        if value not in options:
            self.errors[name] = _("Choose one of the options.")
        return value

    def integer(self, name: str, low: int, high: int, *, optional: bool = False) -> int | None:
        value = text(self.form, name)
        self.values[name] = value
        if optional and value == "":
            return None
        # The length check first: int() refuses strings of thousands of digits with a ValueError.
        if len(value) > 9 or not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
            self.errors[name] = _("Enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
            return None
        return int(value)

    def offsets(self, name: str) -> str:
        """Minutes before the start, comma-separated ('' = none), as stored: largest first, no spaces."""
        value = text(self.form, name)
        self.values[name] = value
        parts = [part.strip() for part in value.split(",")] if value.strip() else []
        if any(len(p) > 9 or not p.isascii() or not p.isdigit() for p in parts):
            self.errors[name] = _("Enter minutes before the start as whole numbers separated by commas, e.g. 1440,60.")
        elif any(not 1 <= int(p) <= MAX_REMINDER_MINUTES for p in parts):
            self.errors[name] = _("Each reminder must be from 1 to %(max)s minutes (60 days) before the start.") % {
                "max": MAX_REMINDER_MINUTES
            }
        elif len({int(p) for p in parts}) < len(parts):
            twice = next(p for p in parts if [int(q) for q in parts].count(int(p)) > 1)
            self.errors[name] = _("Each reminder once: %(minutes)s is given twice.") % {"minutes": int(twice)}
        elif len(parts) > MAX_REMINDERS:
            self.errors[name] = _("At most %(n)s reminders.") % {"n": MAX_REMINDERS}
        if name in self.errors:
            return ""
        return ",".join(str(n) for n in sorted((int(p) for p in parts), reverse=True))

    def slug(self, name: str, max_length: int, *, required: bool) -> str:
        value = self.text(name, max_length, required=required)
        if value and name not in self.errors and not SLUG_RE.match(value):
            self.errors[name] = _("Use only lower-case letters a–z, digits and single hyphens (for example my-event).")
        return value

    def local_time(self, name: str, zone: zoneinfo.ZoneInfo | None, *, required: bool) -> dt.datetime | None:
        value = text(self.form, name)
        self.values[name] = value
        if not value:
            if required:
                self.errors[name] = _("This field is required.")
            return None
        if not LOCAL_TIME_RE.match(value) or not YEARS[0] <= int(value[:4]) <= YEARS[1]:
            self.errors[name] = _("Enter a date and time as YYYY-MM-DDTHH:MM.")
            return None
        try:
            dt.datetime.fromisoformat(value)
        except ValueError:
            self.errors[name] = _("This date does not exist.")
            return None
        if zone is None:  # the time zone is wrong; that field carries the message
            return None
        utc = local_to_utc(value, zone)
        if utc is None:
            self.errors[name] = _("This time does not exist in the event's time zone (the clocks go forward).")
        return utc


def _url_problem(url: str, *, stream: bool, local_http: bool = False) -> str | None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return _("Enter a valid address.")
    if any(ch.isspace() for ch in url) or not host:
        return _("Enter a valid address.")
    local = (stream or local_http) and parts.scheme == "http" and host in LOCAL_HOSTS
    if parts.scheme != "https" and not local:
        return _("The address must start with https://.")
    if stream and not parts.path.endswith(".m3u8"):
        return _("The stream address must be an HLS playlist ending in .m3u8.")
    return None


def _check_urls(reader: FieldReader) -> tuple[str, str]:
    stream = reader.text("stream_url", 2000, required=False)
    embed = reader.text("embed_url", 2000, required=False)
    for name, value in (("stream_url", stream), ("embed_url", embed)):
        if value and name not in reader.errors and (problem := _url_problem(value, stream=name == "stream_url")):
            reader.errors[name] = problem
    if not stream and not embed and "stream_url" not in reader.errors and "embed_url" not in reader.errors:
        reader.errors["stream_url"] = _("Give a stream address (.m3u8) or an address to embed.")
    return stream, embed


def _read_times(reader: FieldReader) -> dict[str, dt.datetime | None]:
    timezone = reader.text("timezone", 64)
    zone = None
    if "timezone" not in reader.errors:
        if is_timezone(timezone):
            zone = zoneinfo.ZoneInfo(timezone)
        else:
            reader.errors["timezone"] = _("Choose a time zone from the list, for example Europe/Bucharest.")
    times = {name: reader.local_time(name, zone, required=name in ("starts_at", "ends_at")) for name in TIME_FIELDS}
    starts, ends = times["starts_at"], times["ends_at"]
    opens, closes = times["registration_opens_at"], times["registration_closes_at"]
    if starts and ends and ends <= starts:
        reader.errors["ends_at"] = _("The event must end after it starts.")
    if closes and ends and closes > ends:
        reader.errors["registration_closes_at"] = _("Registration must close by the time the event ends.")
    if opens and closes and opens >= closes:
        reader.errors["registration_opens_at"] = _("Registration must open before it closes.")
    return times


def _zone(reader: FieldReader) -> zoneinfo.ZoneInfo | None:
    """The event's time zone as typed, when it is a valid one (its own field carries the message otherwise)."""
    name = reader.values.get("timezone", "")
    return zoneinfo.ZoneInfo(name) if "timezone" not in reader.errors and is_timezone(name) else None


def _read_attendance(reader: FieldReader, times: dict[str, dt.datetime | None]) -> tuple[int | None, int]:
    """The attendance threshold (minutes live; empty: none) and the number of presence checks (SPEC §13)."""
    starts, ends = times["starts_at"], times["ends_at"]
    minutes = (ends - starts) // dt.timedelta(minutes=1) if starts and ends and ends > starts else None
    threshold = reader.integer("attendance_minutes", 0, 100_000, optional=True)
    if threshold is not None and minutes is not None and threshold > minutes:
        reader.errors["attendance_minutes"] = ngettext(
            "The event lasts %(num)s minute: the threshold cannot be longer.",
            "The event lasts %(num)s minutes: the threshold cannot be longer.",
            minutes,
        ) % {"num": minutes}
    count = reader.integer("presence_checks", 0, MOST_PRESENCE_CHECKS, optional=True)
    fitting = minutes // checks.MINUTES_PER_CHECK if minutes is not None else None
    if count and fitting is not None and count > fitting:
        reader.errors["presence_checks"] = _(
            "At most %(most)s checks fit in this event (one per %(every)s minutes of the live window)."
        ) % {"most": fitting, "every": checks.MINUTES_PER_CHECK}
    return threshold, count or 0


def _read_replay(reader: FieldReader, ends: dt.datetime | None) -> tuple[str, dt.datetime | None]:
    """The replay's address (HLS or an embed, like the stream) and its last day, kept as the midnight that ends
    that day in the event's time zone (UTC)."""
    url = reader.text("replay_url", 2000, required=False)
    if url and "replay_url" not in reader.errors and (problem := _url_problem(url, stream=False, local_http=True)):
        reader.errors["replay_url"] = problem
    day = text(reader.form, "replay_until")
    reader.values["replay_until"] = day
    if not day:
        if url and "replay_url" not in reader.errors:
            reader.errors["replay_until"] = _("Give the last day on which the replay can be watched.")
        return url, None
    if not DATE_RE.match(day) or not YEARS[0] <= int(day[:4]) <= YEARS[1]:
        reader.errors["replay_until"] = _("Enter a date as YYYY-MM-DD.")
        return url, None
    try:
        last = dt.date.fromisoformat(day)
    except ValueError:
        reader.errors["replay_until"] = _("This date does not exist.")
        return url, None
    zone = _zone(reader)
    if zone is None:
        return url, None
    until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    if not url:
        reader.errors["replay_url"] = _("Give the replay's address, or leave its last day empty.")
    elif ends is not None and until <= ends:
        reader.errors["replay_until"] = _("The replay must stay available after the event ends.")
    return url, until


def _read_certificates(reader: FieldReader) -> tuple[str, bool, str]:
    """The credits a certificate states, whether the event issues certificates, and their numbers' series."""
    credits = reader.text("credits", 200, required=False)
    issued = reader.form.get("certificates") is not None
    reader.values["certificates"] = issued
    series = reader.text("certificate_series", CERTIFICATE_SERIES_LENGTH, required=False)
    if series and "certificate_series" not in reader.errors and not SERIES_RE.match(series):
        reader.errors["certificate_series"] = _(
            "Use only letters A–Z, digits, hyphens and slashes (for example CMSR-2026-0413)."
        )
    elif issued and not series:
        reader.errors["certificate_series"] = _("Give the series the certificates are numbered in.")
    return credits, issued, series


def _read_embed_origins(reader: FieldReader) -> str:
    """The sites allowed to frame the event's registration form, one origin per line (webinar/events/embed.py)."""
    value = reader.text("embed_origins", embed.MOST_ORIGINS * (embed.MOST_LENGTH + 1), required=False, multiline=True)
    if "embed_origins" in reader.errors:
        return value
    value, problem = embed.parse_origins(value)
    if problem:
        reader.errors["embed_origins"] = problem
    return value


def _read_organisation(reader: FieldReader, organisation_ids: Collection[int]) -> int:
    value = text(reader.form, "organisation_id")
    reader.values["organisation_id"] = value
    if len(value) > 18 or not value.isascii() or not value.isdigit() or int(value) not in organisation_ids:
        reader.errors["organisation_id"] = _("Choose the organisation.")
        return 0
    return int(value)


def _read_consent_texts(reader: FieldReader, language: str) -> dict[str, str]:
    """The consent wording in each language: either may be left empty (a page in that language then shows the
    other's), not both."""
    texts = {lang: reader.text(f"consent_text_{lang}", 10_000, required=False, multiline=True) for lang in LANGUAGES}
    if not any(texts.values()) and not any(f"consent_text_{lang}" in reader.errors for lang in LANGUAGES):
        name = f"consent_text_{language if language in LANGUAGES else LANGUAGES[0]}"
        reader.errors[name] = _("Write the consent text in at least one language.")
    return texts


def parse_event_form(
    form: FormData, organisation_ids: Collection[int]
) -> tuple[EventInput | None, dict[str, str], dict[str, Any]]:
    """Validate the event form; `organisation_ids` are those the event may belong to.

    An empty slug comes back as '' (the caller makes one from the title, where it can check uniqueness).
    """
    r = FieldReader(form)
    organisation_id = _read_organisation(r, organisation_ids)
    title = r.text("title", 200)
    slug = r.slug("slug", 100, required=False)
    description = r.text("description", 20_000, required=False, multiline=True)
    language = r.choice("language", LANGUAGES)
    times = _read_times(r)
    doors = r.integer("doors_open_minutes", 0, 1440)
    stream_url, embed_url = _check_urls(r)
    capacity = r.integer("capacity", 1, 1_000_000, optional=True)
    approval, login = r.choice("approval", APPROVALS), r.choice("login", LOGINS)
    modes = {name: r.choice(name, FIELD_MODES) for name in MODE_FIELDS}
    min_age = r.integer("min_age", 1, 120, optional=True)
    consent_texts = _read_consent_texts(r, language)
    retention_days = r.integer("retention_days", 1, 3650)
    attendance_minutes, presence_checks = _read_attendance(r, times)
    replay_url, replay_until = _read_replay(r, times["ends_at"])
    credits, certificates, certificate_series = _read_certificates(r)
    listed, waitlist = (r.form.get(name) is not None for name in ("listed", "waitlist"))
    confirm_email = r.form.get("confirm_email") is not None
    devices = r.integer("devices", 1, MOST_DEVICES, optional=True) or 1  # empty (or an older form): one
    embed_origins = _read_embed_origins(r)
    reminders = r.offsets("reminders")
    followup = r.integer("followup_after_minutes", 0, MAX_FOLLOWUP_MINUTES, optional=True)
    r.values.update(listed=listed, waitlist=waitlist, confirm_email=confirm_email)
    if r.errors:
        return None, r.errors, r.values
    assert doors is not None and retention_days is not None  # required integers: an error otherwise
    data = EventInput(
        organisation_id=organisation_id,
        title=title,
        slug=slug,
        description=description,
        language=language,
        timezone=r.values["timezone"],
        starts_at=times["starts_at"],  # type: ignore[arg-type]  # required: an error otherwise
        ends_at=times["ends_at"],  # type: ignore[arg-type]
        registration_opens_at=times["registration_opens_at"],
        registration_closes_at=times["registration_closes_at"],
        doors_open_minutes=doors,
        stream_url=stream_url,
        embed_url=embed_url,
        capacity=capacity,
        approval=approval,
        login=login,
        min_age=min_age,
        retention_days=retention_days,
        listed=listed,
        waitlist=waitlist,
        confirm_email=confirm_email,
        devices=devices,
        embed_origins=embed_origins,
        reminders=reminders,
        followup_after_minutes=followup,
        attendance_minutes=attendance_minutes,
        presence_checks=presence_checks,
        replay_url=replay_url,
        replay_until=replay_until,
        credits=credits,
        certificates=certificates,
        certificate_series=certificate_series,
        consent_text_ro=consent_texts["ro"],
        consent_text_en=consent_texts["en"],
        **modes,
    )
    return data, {}, r.values


def new_event_values(organisation_id: int | None = None, language: str = "ro") -> dict[str, Any]:
    """What the empty event form starts with."""
    values: dict[str, Any] = {name: "" for name in ("title", "slug", "description", "stream_url", "embed_url")}
    values.update({name: "" for name in TIME_FIELDS})
    values.update(
        organisation_id=str(organisation_id or ""),
        language=language,
        timezone=DEFAULT_TIMEZONE,
        doors_open_minutes="30",
        capacity="",
        approval="auto",
        login="link",
        **default_modes(),
        min_age="16",
        consent_text_ro=DEFAULT_CONSENT_TEXT["ro"],
        consent_text_en=DEFAULT_CONSENT_TEXT["en"],
        retention_days="90",
        listed=False,
        waitlist=False,
        confirm_email=False,
        devices="1",
        embed_origins="",
        reminders=DEFAULT_REMINDERS,
        followup_after_minutes=str(DEFAULT_FOLLOWUP_MINUTES),
        attendance_minutes="",
        presence_checks="0",
        replay_url="",
        replay_until="",
        credits="",
        certificates=False,
        certificate_series="",
    )
    return values


def _text_of(consents: Consents, language: str) -> str:
    found = consents.of(language)
    return found.text if found else ""


def _last_day(event: Event) -> str:
    """The replay's last day as the form shows it (YYYY-MM-DD in the event's time zone)."""
    last = event.replay_last_day
    return last.astimezone(zoneinfo.ZoneInfo(event.timezone)).date().isoformat() if last else ""


def event_values(event: Event, consents: Consents) -> dict[str, Any]:
    """The form's values for an existing event, times shown in its own time zone."""
    values: dict[str, Any] = {
        name: getattr(event, name)
        for name in ("title", "slug", "description", "language", "timezone", "stream_url", "embed_url")
    }
    values.update({name: utc_to_local(getattr(event, name), event.timezone) for name in TIME_FIELDS})
    values.update(
        {
            name: getattr(event, name)
            for name in (*MODE_FIELDS, "approval", "login", "listed", "waitlist", "confirm_email")
        }
    )
    values.update(
        organisation_id=str(event.organisation_id),
        doors_open_minutes=str(event.doors_open_minutes),
        capacity="" if event.capacity is None else str(event.capacity),
        min_age="" if event.min_age is None else str(event.min_age),
        retention_days=str(event.retention_days),
        consent_text_ro=_text_of(consents, "ro"),
        consent_text_en=_text_of(consents, "en"),
        reminders=event.reminders,
        followup_after_minutes="" if event.followup_after_minutes is None else str(event.followup_after_minutes),
        attendance_minutes="" if event.attendance_minutes is None else str(event.attendance_minutes),
        presence_checks=str(event.presence_checks),
        devices=str(event.devices),
        embed_origins=event.embed_origins,
        replay_url=event.replay_url,
        replay_until=_last_day(event),
        credits=event.credits,
        certificates=event.certificates,
        certificate_series=event.certificate_series,
    )
    return values


def copy_values(event: Event, consents: Consents) -> dict[str, Any]:
    """The form's values for a copy of an event: its settings, no address (one is made from the title) and no dates,
    which the person copying sets (as pretix's "copy from event" asks for them)."""
    values = event_values(event, consents)
    values.update({name: "" for name in TIME_FIELDS}, slug="", replay_until="")
    return values
