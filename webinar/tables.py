"""The database schema: one MetaData, every table, and the constraints that keep the data right."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING)

# 64-bit keys on PostgreSQL, the rowid alias on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and read back as an aware UTC datetime on every engine."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _id() -> sa.Column[Any]:
    return sa.Column("id", BigId, primary_key=True, autoincrement=True)


def _created() -> sa.Column[Any]:
    return sa.Column("created_at", UTCDateTime, nullable=False)


FIELD_MODES = ("required", "optional", "hidden")
STATUSES = ("unconfirmed", "pending", "approved", "rejected", "waitlisted", "cancelled")
# Double opt-in (SPEC §15, events.confirm_email): a registration waits `unconfirmed` until the link in its e-mail is
# clicked; it holds its seat meanwhile, for CONFIRM_WITHIN at most, then lapses (cancelled: registration/confirm.py).
UNCONFIRMED = "unconfirmed"
# Who counts as registered in the counts and the registered report: approved or awaiting approval (not unconfirmed).
REGISTERED = ("approved", "pending")
# The statuses that take one of an event's seats (its capacity): the rule, once, for every count of seats.
HOLDS_SEAT = (*REGISTERED, UNCONFIRMED)
# The kinds of an event's custom questions (SPEC §11); registration/questions.py says what each one accepts.
QUESTION_KINDS = ("text", "textarea", "choice", "multichoice", "checkbox", "number", "date")
WAITLISTED = "waitlisted"  # no seat yet: the first in line takes the next seat that frees (registration/seats.py)
# The statuses a registrant may still cancel (and that an erasure before the end turns into `cancelled`).
CANCELLABLE = (*HOLDS_SEAT, WAITLISTED)
# An event's reminders (SPEC §12): minutes before the start, comma-separated, largest first; '' = none.
DEFAULT_REMINDERS = "1440,60"
DEFAULT_FOLLOWUP_MINUTES = 60  # the follow-up goes this long after the end; NULL = none
# What `scheduled_emails` records: one reminder per offset, one follow-up (attended or missed) per person.
SCHEDULED_KINDS = ("reminder", "followup")
# Why a viewing session ended (SPEC §4; `taken_over`: the registrant opened the stream page on one device too many,
# SPEC §15).
END_REASONS = ("logout", "left", "timeout", "taken_over")
# A viewing session of the live stream, or of the replay after the end (never counted as live: SPEC §13).
VIEWING_KINDS = ("live", "replay")
MOST_DEVICES = 10  # per registrant at once (events.devices, SPEC §15): more is a shared link, not a household
MOST_PRESENCE_CHECKS = 20  # per event: more "are you still here?" prompts than this are a nuisance, not a proof
CANCELLED = "cancelled"  # by the registrant, who may register again with the same address (registration/services.py)
# What a consent record says happened: the person gave or withdrew a consent on our pages, or staff imported them
# (SPEC §11: the basis of an imported registration, with who imported it and when; never a consent of the person).
CONSENT_ACTIONS = ("given", "withdrawn", "imported")
IMPORTED = "imported"
# An event is scheduled until its organiser cancels it (SPEC §12): its page then says so and its links stop working.
EVENT_STATUSES = ("scheduled", "cancelled")
# The states of an e-mail in the outbox: `failed` is final (an SMTP 5xx, or a day of temporary refusals).
OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "cancelled")

organisations = sa.Table(
    "organisations",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("slug", sa.String(100), nullable=False, unique=True),
    sa.Column("contact_email", sa.String(254), nullable=False),
    _created(),
    # Whether the organisation's organisers may create, edit, duplicate and cancel its events (an operator's choice).
    sa.Column("organisers_edit_events", sa.Boolean, nullable=False, server_default=sa.false()),
)

staff_users = sa.Table(
    "staff_users",
    metadata,
    _id(),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("email_normalised", sa.String(254), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("organisation_id", BigId, sa.ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=True),
    sa.Column("language", sa.String(5), nullable=False, server_default="en"),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    _created(),
    sa.Column("last_login_at", UTCDateTime, nullable=True),
    # Two-factor sign-in (admin/twofactor.py): the TOTP secret (base32), set when enrolment starts and in use once
    # confirmed with a code; the last time step a code was accepted for, so that a code works once.
    sa.Column("totp_secret", sa.String(64), nullable=True),
    sa.Column("totp_confirmed_at", UTCDateTime, nullable=True),
    sa.Column("totp_last_step", sa.BigInteger, nullable=True),
    # The daily e-mail of registrations waiting for approval (webinar/registration/digest.py), which an organiser may
    # turn off on "My account", and the day (in Bucharest) it last went: the conditional UPDATE of that day is what
    # sends it once per person and day, however many workers run the job.
    sa.Column("approval_digest", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("approval_digest_on", sa.Date, nullable=True),
    # Part of every device cookie's account tag (admin/signin.py): "log out everywhere" adds one, so that the browsers
    # that signed in before are no longer known devices.
    sa.Column("device_generation", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("role IN ('operator', 'organiser')", name="role"),
    sa.CheckConstraint("role = 'operator' OR organisation_id IS NOT NULL", name="organiser_has_organisation"),
)

# A staff member's recovery codes: shown once, kept as HMACs (keyed by SECRET_KEY), each good for one sign-in.
staff_recovery_codes = sa.Table(
    "staff_recovery_codes",
    metadata,
    _id(),
    sa.Column("staff_user_id", BigId, sa.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    _created(),
    sa.Column("used_at", UTCDateTime, nullable=True),
)
sa.Index("ix_staff_recovery_codes_staff", staff_recovery_codes.c.staff_user_id)

CERTIFICATE_SERIES_LENGTH = 40
DEFAULT_PASS_MARK = 70  # percent of the final evaluation's questions answered right

events = sa.Table(
    "events",
    metadata,
    _id(),
    sa.Column("organisation_id", BigId, sa.ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("slug", sa.String(100), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("language", sa.String(5), nullable=False, server_default="ro"),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="Europe/Bucharest"),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("registration_opens_at", UTCDateTime, nullable=True),
    sa.Column("registration_closes_at", UTCDateTime, nullable=True),
    sa.Column("doors_open_minutes", sa.Integer, nullable=False, server_default="30"),
    sa.Column("stream_url", sa.String(2000), nullable=False, server_default=""),
    sa.Column("embed_url", sa.String(2000), nullable=False, server_default=""),
    sa.Column("capacity", sa.Integer, nullable=True),
    sa.Column("approval", sa.String(10), nullable=False, server_default="auto"),
    sa.Column("login", sa.String(20), nullable=False, server_default="link"),
    sa.Column("field_job_title", sa.String(10), nullable=False, server_default="optional"),
    sa.Column("field_member_id", sa.String(10), nullable=False, server_default="hidden"),
    sa.Column("field_organisation", sa.String(10), nullable=False, server_default="optional"),
    sa.Column("field_phone", sa.String(10), nullable=False, server_default="hidden"),
    sa.Column("min_age", sa.Integer, nullable=True),
    sa.Column("retention_days", sa.Integer, nullable=False, server_default="90"),
    sa.Column("listed", sa.Boolean, nullable=False, server_default=sa.false()),
    # A full event takes further registrations on a waiting list instead of refusing them.
    sa.Column("waitlist", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reminders", sa.String(100), nullable=False, server_default=DEFAULT_REMINDERS),
    sa.Column("followup_after_minutes", sa.Integer, nullable=True, server_default=str(DEFAULT_FOLLOWUP_MINUTES)),
    # Attendance that counts (SPEC §13, docs/attendance.md): minutes watched live to qualify (NULL: no threshold),
    # how many presence checks the stream page shows, and the replay played after the end until `replay_until`
    # (the end of the last day of the replay, in the event's time zone, as UTC).
    sa.Column("attendance_minutes", sa.Integer, nullable=True),
    sa.Column("presence_checks", sa.Integer, nullable=False, server_default="0"),
    sa.Column("replay_url", sa.String(2000), nullable=False, server_default=""),
    sa.Column("replay_until", UTCDateTime, nullable=True),
    # Certificates (SPEC §13, docs/attendance.md): whether the event issues them, the credits they state (free
    # text: "4 credite EMC") and the series their numbers start with (the one an accrediting body allocated).
    sa.Column("credits", sa.String(200), nullable=False, server_default=""),
    sa.Column("certificates", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("certificate_series", sa.String(CERTIFICATE_SERIES_LENGTH), nullable=False, server_default=""),
    # The final evaluation (SPEC §13, webinar/evaluation/): whether the event has one, and the pass mark in percent.
    sa.Column("evaluation", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("evaluation_pass_mark", sa.Integer, nullable=False, server_default=str(DEFAULT_PASS_MARK)),
    # Crowds (SPEC §15, docs/crowds.md): registrations wait for the link in their e-mail to be clicked (double
    # opt-in); how many devices may have the stream page open at once per registrant (one more takes over).
    sa.Column("confirm_email", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("devices", sa.Integer, nullable=False, server_default="1"),
    # The sites whose pages may frame the event's registration form (SPEC §14, webinar/events/embed.py): origins,
    # one per line, normalised; '' for none (the embed page is then framed nowhere).
    sa.Column("embed_origins", sa.Text, nullable=False, server_default=""),
    _created(),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("purged_at", UTCDateTime, nullable=True),
    sa.Column("status", sa.String(10), nullable=False, server_default="scheduled"),
    sa.Column("cancelled_at", UTCDateTime, nullable=True),
    # The SEQUENCE of every registrant's calendar entry: raised by each change of time or stream and by the
    # cancellation, so calendars replace the entry they have (webinar/registration/notices.py).
    sa.Column("ics_sequence", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("language IN ('ro', 'en')", name="language"),
    sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    sa.CheckConstraint("approval IN ('auto', 'manual')", name="approval"),
    sa.CheckConstraint("login IN ('link', 'link_and_password')", name="login"),
    sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity"),
    sa.CheckConstraint("doors_open_minutes >= 0", name="doors_open"),
    sa.CheckConstraint("retention_days >= 1", name="retention"),
    sa.CheckConstraint("min_age IS NULL OR min_age BETWEEN 1 AND 120", name="min_age"),
    sa.CheckConstraint("followup_after_minutes IS NULL OR followup_after_minutes >= 0", name="followup"),
    sa.CheckConstraint("attendance_minutes IS NULL OR attendance_minutes >= 0", name="attendance_minutes"),
    sa.CheckConstraint(f"presence_checks BETWEEN 0 AND {MOST_PRESENCE_CHECKS}", name="presence_checks"),
    sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in EVENT_STATUSES) + ")", name="status"),
    sa.CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_when"),
    sa.CheckConstraint("ics_sequence >= 0", name="ics_sequence"),
    sa.CheckConstraint("evaluation_pass_mark BETWEEN 1 AND 100", name="evaluation_pass_mark"),
    sa.CheckConstraint(f"devices BETWEEN 1 AND {MOST_DEVICES}", name="devices"),
    *(
        sa.CheckConstraint(f"{col} IN ('required', 'optional', 'hidden')", name=col)
        for col in ("field_job_title", "field_member_id", "field_organisation", "field_phone")
    ),
)
sa.Index("ix_events_listed_starts", events.c.listed, events.c.starts_at)
sa.Index("ix_events_organisation", events.c.organisation_id)

consent_texts = sa.Table(
    "consent_texts",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    # Versions are numbered across the event's languages, so that a version names one wording in one language; the
    # current text of a language is its newest version, none when that one is empty (the organiser removed it).
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("language", sa.String(2), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    _created(),
    sa.UniqueConstraint("event_id", "version", name="uq_consent_texts_event_version"),
    sa.CheckConstraint("language IN ('ro', 'en')", name="language"),
)

registrations = sa.Table(
    "registrations",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    # NULL once erased: the row stays so that the event's counts and traffic keep their numbers.
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("email_normalised", sa.String(254), nullable=True),
    sa.Column("first_name", sa.String(100), nullable=True),
    sa.Column("last_name", sa.String(100), nullable=True),
    sa.Column("job_title", sa.String(200), nullable=True),
    sa.Column("member_id", sa.String(200), nullable=True),
    sa.Column("organisation", sa.String(200), nullable=True),
    sa.Column("phone", sa.String(40), nullable=True),
    sa.Column("password_hash", sa.String(255), nullable=True),
    # Lower-case, accent-free "first last email" for case- and diacritic-insensitive search.
    sa.Column("search_text", sa.Text, nullable=False, server_default=""),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("marketing_opt_in", sa.Boolean, nullable=False, server_default=sa.false()),
    # Bumped to revoke every join link issued so far.
    sa.Column("token_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("language", sa.String(5), nullable=False, server_default="ro"),
    _created(),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("decided_by", BigId, sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("erased_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="status"),
    sa.UniqueConstraint("event_id", "email_normalised", name="uq_registrations_event_email"),
)
sa.Index("ix_registrations_event_status", registrations.c.event_id, registrations.c.status)
# The API's pages of an event's registrations by id (webinar/api/queries.py): a range scan from the cursor.
sa.Index("ix_registrations_event_id", registrations.c.event_id, registrations.c.id)
# The registrations waiting for approval, few beside the rest: the back office's badge counts them on every page.
sa.Index(
    "ix_registrations_pending",
    registrations.c.event_id,
    postgresql_where=registrations.c.status == "pending",
    sqlite_where=registrations.c.status == "pending",
)

consent_records = sa.Table(
    "consent_records",
    metadata,
    _id(),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("purpose", sa.String(20), nullable=False),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("consent_text_id", BigId, sa.ForeignKey("consent_texts.id", ondelete="RESTRICT"), nullable=True),
    sa.Column("text_version", sa.Integer, nullable=True),
    sa.Column("text_sha256", sa.String(64), nullable=True),
    # The language of the text ticked (the one shown, which may be the other language when the organiser wrote one).
    sa.Column("text_language", sa.String(2), nullable=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("ip", sa.String(45), nullable=True),
    sa.Column("user_agent", sa.String(500), nullable=True),
    # The staff member who recorded it for the person: who imported them (NULL: the person themselves).
    sa.Column("recorded_by", BigId, sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
    sa.CheckConstraint("purpose IN ('processing', 'marketing', 'age')", name="purpose"),
    sa.CheckConstraint("text_language IS NULL OR text_language IN ('ro', 'en')", name="text_language"),
    sa.CheckConstraint("action IN (" + ", ".join(f"'{a}'" for a in CONSENT_ACTIONS) + ")", name="action"),
)
sa.Index("ix_consent_records_registration", consent_records.c.registration_id)

# An event's custom questions (SPEC §11). A removed question keeps its row (`removed_at`) and its answers, which
# the registered report still shows until retention erases the people who gave them.
questions = sa.Table(
    "questions",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("label_ro", sa.String(200), nullable=False, server_default=""),
    sa.Column("label_en", sa.String(200), nullable=False, server_default=""),
    sa.Column("help_ro", sa.String(1000), nullable=False, server_default=""),
    sa.Column("help_en", sa.String(1000), nullable=False, server_default=""),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("options", sa.Text, nullable=False, server_default=""),  # one per line, for the choice kinds
    sa.Column("required", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("removed_at", UTCDateTime, nullable=True),
    _created(),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in QUESTION_KINDS) + ")", name="kind"),
)
sa.Index("ix_questions_event_position", questions.c.event_id, questions.c.position)

# One registration's answer to one question, as text (a multichoice answer: its options, one per line). Personal
# data: erased with the person.
answers = sa.Table(
    "answers",
    metadata,
    _id(),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("question_id", BigId, sa.ForeignKey("questions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.UniqueConstraint("registration_id", "question_id", name="uq_answers_registration_question"),
)
sa.Index("ix_answers_question", answers.c.question_id)

# A list an organiser uploaded to import (SPEC §11), kept between its preview and its confirmation: the parsed
# cells (zlib-compressed JSON) and the digest of what the preview showed. Found by the SHA-256 of a random token
# only the uploader's page holds, bound to that staff member and event; gone once confirmed or discarded, and an
# hour after the upload at the latest (registration/imports.py; retention sweeps what was left).
import_uploads = sa.Table(
    "import_uploads",
    metadata,
    _id(),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("staff_user_id", BigId, sa.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("plan_sha256", sa.String(64), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("cells", sa.LargeBinary, nullable=False),
    _created(),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)
sa.Index("ix_import_uploads_event", import_uploads.c.event_id)
sa.Index("ix_import_uploads_expires", import_uploads.c.expires_at)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    # SHA-256 of the opaque id in the cookie: a copy of the database does not hand out live sessions.
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("staff_user_id", BigId, sa.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=True),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="CASCADE"), nullable=True),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=True),
    _created(),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("ip", sa.String(45), nullable=True),
    sa.Column("user_agent", sa.String(500), nullable=True),
    sa.CheckConstraint("kind IN ('staff', 'attendee')", name="kind"),
    sa.CheckConstraint(
        "(kind = 'staff' AND staff_user_id IS NOT NULL) OR (kind = 'attendee' AND registration_id IS NOT NULL)",
        name="owner",
    ),
)
sa.Index("ix_web_sessions_staff", web_sessions.c.staff_user_id)
sa.Index("ix_web_sessions_registration", web_sessions.c.registration_id)

viewing_sessions = sa.Table(
    "viewing_sessions",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("web_session_hash", sa.String(64), nullable=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime, nullable=True),
    sa.Column("end_reason", sa.String(10), nullable=True),
    sa.Column("ip", sa.String(45), nullable=True),
    sa.Column("user_agent", sa.String(500), nullable=True),
    sa.Column("kind", sa.String(10), nullable=False, server_default="live"),
    sa.CheckConstraint(
        "end_reason IS NULL OR end_reason IN (" + ", ".join(f"'{r}'" for r in END_REASONS) + ")", name="end_reason"
    ),
    sa.CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in VIEWING_KINDS) + ")", name="kind"),
    sa.CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name="ended_has_reason"),
)
sa.Index("ix_viewing_sessions_event_started", viewing_sessions.c.event_id, viewing_sessions.c.started_at)
sa.Index("ix_viewing_sessions_registration", viewing_sessions.c.registration_id)
sa.Index("ix_viewing_sessions_open", viewing_sessions.c.ended_at, viewing_sessions.c.last_seen_at)

# One presence check ("are you still here?") shown to one registrant during the live window: its number in the
# event's series (1…presence_checks), when it fell due, the deadline to answer (due + the answer window), when the
# stream page first showed it, and when the person answered (NULL: not answered; later than `answer_by`: late,
# which counts as missed). Personal data: erased with the person.
presence_checks = sa.Table(
    "presence_checks",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("answer_by", UTCDateTime, nullable=False),
    sa.Column("shown_at", UTCDateTime, nullable=False),
    sa.Column("answered_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("registration_id", "number", name="uq_presence_checks_registration_number"),
)
sa.Index("ix_presence_checks_event", presence_checks.c.event_id)

# Who an organiser's message may go to (SPEC §12): everyone still in (`all`), or the registrants of one status.
MESSAGE_AUDIENCES = ("all", "approved", "pending", "waitlisted", "rejected", "cancelled")
# An organiser's message to an event's registrants: their text (placeholders, never a template), one e-mail each.
event_messages = sa.Table(
    "event_messages",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("audience", sa.String(20), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False),
    sa.Column("sent_by", BigId, sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("sent_by_email", sa.String(254), nullable=False),
    _created(),
)
sa.Index("ix_event_messages_event", event_messages.c.event_id)

outbox = sa.Table(
    "outbox",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="SET NULL"), nullable=True),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="SET NULL"), nullable=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("to_address", sa.String(254), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text, nullable=False),
    sa.Column("ics", sa.Text, nullable=True),
    sa.Column("headers_json", sa.Text, nullable=False, server_default="{}"),
    sa.Column("message_id", sa.String(200), nullable=False, unique=True),
    sa.Column("status", sa.String(10), nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    _created(),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("locked_until", UTCDateTime, nullable=True),
    sa.Column("lock_owner", sa.String(64), nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.String(1000), nullable=True),
    # Not sent after this moment (a reminder once its event has started): the sender cancels it instead.
    sa.Column("expires_at", UTCDateTime, nullable=True),
    # The organiser's message to the event's registrants this e-mail is one of (kind `message`), when it is.
    sa.Column("event_message_id", BigId, sa.ForeignKey("event_messages.id", ondelete="SET NULL"), nullable=True),
    sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in OUTBOX_STATUSES) + ")", name="status"),
)
# The sender's claim (`ORDER BY next_attempt_at, id LIMIT n`): with the id, a claim reads its n rows from the index;
# without it, 50,000 reminders queued at one moment were read and sorted for every claim of ten (migration 0019).
sa.Index("ix_outbox_due", outbox.c.status, outbox.c.next_attempt_at, outbox.c.id)
sa.Index("ix_outbox_registration", outbox.c.registration_id)
# An event's e-mails of one kind: a new update supersedes the ones still queued (registration/notices.py).
sa.Index("ix_outbox_event_kind", outbox.c.event_id, outbox.c.kind, outbox.c.status)

# An organiser's own text for one kind of e-mail of an event, in one language (SPEC §12); no row: our default
# template. Plain text with {placeholders} (webinar/mail/placeholders.py), never a template language.
email_templates = sa.Table(
    "email_templates",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("language", sa.String(5), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("updated_by", sa.String(254), nullable=False),  # the staff member's address, as in the audit log
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("language IN ('ro', 'en')", name="language"),
    sa.UniqueConstraint("event_id", "kind", "language", name="uq_email_templates_event_kind_language"),
)

# What was queued of an event's scheduled e-mails (webinar/registration/reminders.py): one row per registration and
# reminder offset, one per registration for the follow-up (offset 0). The unique key is what makes each go once,
# whatever the number of workers, restarts or SMTP outages: a pass inserts these rows and the e-mails of the rows it
# inserted, in one transaction. `batch` names the pass that inserted the row.
scheduled_emails = sa.Table(
    "scheduled_emails",
    metadata,
    _id(),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("offset_minutes", sa.Integer, nullable=False),
    sa.Column("batch", sa.String(32), nullable=False),
    _created(),
    sa.CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in SCHEDULED_KINDS) + ")", name="kind"),
    sa.UniqueConstraint("registration_id", "kind", "offset_minutes", name="uq_scheduled_emails_once"),
)
sa.Index("ix_scheduled_emails_batch", scheduled_emails.c.batch)
sa.Index("ix_scheduled_emails_event", scheduled_emails.c.event_id)

audit_log = sa.Table(
    "audit_log",
    metadata,
    _id(),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor_staff_id", BigId, sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("actor", sa.String(254), nullable=False),
    sa.Column("organisation_id", BigId, sa.ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="SET NULL"), nullable=True),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="SET NULL"), nullable=True),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("details_json", sa.Text, nullable=False, server_default="{}"),
    sa.Column("ip", sa.String(45), nullable=True),
)
sa.Index("ix_audit_log_at", audit_log.c.at)
sa.Index("ix_audit_log_organisation", audit_log.c.organisation_id, audit_log.c.at)

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("hits", sa.Integer, nullable=False),
)

# The proof-of-work solutions already used (SPEC §15, webinar/web/proof.py): each ALTCHA challenge is accepted once,
# and its row is kept until the challenge expires (then retention's purge forgets it).
proof_solutions = sa.Table(
    "proof_solutions",
    metadata,
    sa.Column("challenge", sa.String(128), primary_key=True),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)
sa.Index("ix_proof_solutions_expires_at", proof_solutions.c.expires_at)

job_leases = sa.Table(
    "job_leases",
    metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("locked_until", UTCDateTime, nullable=True),
    sa.Column("last_run_at", UTCDateTime, nullable=True),
)

# The certificates issued (SPEC §13, webinar/certificates/): numbered `{series}-{n}-{code}` — n per event in the order
# issued, never reused (a revoked or erased certificate keeps its row), code random so the public verification address
# cannot be guessed from another. The name and member ID are as they were when issued (personal data: blanked by
# erasure, which also revokes the certificate); the minutes are those watched live when it was issued.
certificates = sa.Table(
    "certificates",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("number", sa.String(80), nullable=False),
    sa.Column("full_name", sa.String(300), nullable=True),
    sa.Column("member_id", sa.String(200), nullable=True),
    sa.Column("minutes", sa.Integer, nullable=False),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("revoked_by", sa.String(320), nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.UniqueConstraint("number", name="uq_certificates_number"),
    sa.UniqueConstraint("event_id", "sequence", name="uq_certificates_event_sequence"),
    sa.UniqueConstraint("registration_id", name="uq_certificates_registration"),
    sa.CheckConstraint("sequence >= 1", name="sequence"),
    sa.CheckConstraint("(revoked_at IS NULL) = (revoked_by IS NULL)", name="revoked_by_whom"),
)

# The final evaluation (SPEC §13, webinar/evaluation/): an event's multiple-choice questions and their options (one or
# more correct), set by the organiser; and, per registration, the result (scored on the server when submitted, taken
# once) and the options the person chose. Results and answers are personal data: erasure deletes them.
evaluation_questions = sa.Table(
    "evaluation_questions",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("text", sa.String(1000), nullable=False),
    sa.UniqueConstraint("event_id", "position", name="uq_evaluation_questions_event_position"),
)

evaluation_options = sa.Table(
    "evaluation_options",
    metadata,
    _id(),
    sa.Column("question_id", BigId, sa.ForeignKey("evaluation_questions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("text", sa.String(500), nullable=False),
    sa.Column("correct", sa.Boolean, nullable=False),
    sa.UniqueConstraint("question_id", "position", name="uq_evaluation_options_question_position"),
)

evaluation_results = sa.Table(
    "evaluation_results",
    metadata,
    _id(),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),  # percent of the questions answered right, rounded down
    sa.Column("passed", sa.Boolean, nullable=False),  # by the pass mark when it was submitted
    sa.Column("submitted_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("registration_id", name="uq_evaluation_results_registration"),
    sa.CheckConstraint("score BETWEEN 0 AND 100", name="score"),
)
sa.Index("ix_evaluation_results_event", evaluation_results.c.event_id)

evaluation_answers = sa.Table(
    "evaluation_answers",
    metadata,
    _id(),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("option_id", BigId, sa.ForeignKey("evaluation_options.id", ondelete="CASCADE"), nullable=False),
    sa.UniqueConstraint("registration_id", "option_id", name="uq_evaluation_answers_registration_option"),
)
sa.Index("ix_evaluation_answers_option", evaluation_answers.c.option_id)

# API tokens (SPEC §14, webinar/api/tokens.py): one organisation's, or the platform's (NULL: an operator's). Only the
# SHA-256 of the token is kept; `prefix` (its first characters) lets staff tell tokens apart on the list.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    _id(),
    sa.Column("organisation_id", BigId, sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(254), nullable=False),  # who created it, as in the audit log
    _created(),
    sa.Column("last_used_at", UTCDateTime, nullable=True),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)
sa.Index("ix_api_tokens_organisation", api_tokens.c.organisation_id)

WEBHOOK_EVENTS = (
    "registration.created",
    "registration.status_changed",
    "session.started",
    "session.ended",
    "attendance.final",
    "certificate.issued",
)
WEBHOOK_STATUSES = ("queued", "sending", "delivered", "failed")

# A webhook subscription (SPEC §14, webinar/webhooks/): an organisation's (NULL: the platform's, every organisation's
# events), its target, the events it wants (",a,b,": one LIKE per type) and its signing secret (`whsec_…`).
webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    _id(),
    sa.Column("organisation_id", BigId, sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("events", sa.String(500), nullable=False),
    sa.Column("secret", sa.String(100), nullable=False),
    _created(),
    sa.Column("disabled_at", UTCDateTime, nullable=True),
)
sa.Index("ix_webhook_subscriptions_organisation", webhook_subscriptions.c.organisation_id)

# The durable queue of webhook deliveries: one row per subscription and event, claimed with a lease like the mail
# outbox. The body is made from the row (ids and statuses only: no personal data travels, the receiver asks the API).
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    _id(),
    sa.Column("subscription_id", BigId, sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=True),
    sa.Column("registration_id", BigId, sa.ForeignKey("registrations.id", ondelete="CASCADE"), nullable=True),
    sa.Column("details_json", sa.Text, nullable=False, server_default="{}"),
    sa.Column("status", sa.String(10), nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    _created(),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("locked_until", UTCDateTime, nullable=True),
    sa.Column("lock_owner", sa.String(64), nullable=True),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in WEBHOOK_STATUSES) + ")", name="status"),
)
# The webhook sender's claim orders by (next_attempt_at, id) as the mail sender's does (ix_outbox_due, migration 0019).
sa.Index(
    "ix_webhook_deliveries_due",
    webhook_deliveries.c.status,
    webhook_deliveries.c.next_attempt_at,
    webhook_deliveries.c.id,
)
sa.Index("ix_webhook_deliveries_subscription", webhook_deliveries.c.subscription_id, webhook_deliveries.c.id)

# Each attempt at a delivery, with the receiver's answer (its status and the start of its body): the log of a
# subscription's last answers on its back-office page.
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    _id(),
    sa.Column("delivery_id", BigId, sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("subscription_id", BigId, sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.String(500), nullable=True),
    sa.Column("answer", sa.String(500), nullable=True),
    sa.Column("milliseconds", sa.Integer, nullable=False),
)
sa.Index("ix_webhook_attempts_subscription", webhook_attempts.c.subscription_id, webhook_attempts.c.id)
sa.Index("ix_webhook_attempts_delivery", webhook_attempts.c.delivery_id)

# What the clock announced of an event once (session.started, session.ended, attendance.final): the unique key is what
# makes each go once whatever the number of workers.
webhook_announced = sa.Table(
    "webhook_announced",
    metadata,
    sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("type", sa.String(40), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
)

# An organisation's look on its events' public pages and e-mails (docs/branding.md): an accent colour and a logo. The
# logo's bytes live here, not in files, so that every web process on every machine serves the same one (SPEC §9).
organisation_branding = sa.Table(
    "organisation_branding",
    metadata,
    sa.Column("organisation_id", BigId, sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("accent_colour", sa.String(7), nullable=True),  # "#rrggbb", lower case; None: the site's own
    sa.Column("logo", sa.LargeBinary, nullable=True),  # re-encoded by webinar/branding/logo.py
    sa.Column("logo_type", sa.String(20), nullable=True),  # image/png, image/jpeg or image/webp
    sa.Column("logo_sha256", sa.String(64), nullable=True),  # of the bytes: in the logo's URL, which never changes
    sa.Column("logo_width", sa.Integer, nullable=True),
    sa.Column("logo_height", sa.Integer, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
