"""The API's writes, each through the service the forms use (the Registrar, staff decisions, the cancellation), and
each audited under the token that made it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from starlette.datastructures import FormData, UploadFile

from webinar import audit
from webinar.api.tokens import Token
from webinar.db import DB
from webinar.events.queries import Event
from webinar.mail.render import Mailer
from webinar.registration import batch, cancellation, forms, services
from webinar.registration import queries as registration_queries
from webinar.registration.forms import RegistrationData
from webinar.registration.questions import parse_answers
from webinar.registration.rows import RequestMeta
from webinar.registration.services import Actor, Registrar
from webinar.text import normalise_email
from webinar.web.ratelimit import Limit

REGISTER_LIMIT = 600  # registrations per token and window: an organisation's system sends many, a form one
_TEXTS = ("first_name", "last_name", "email", "job_title", "member_id", "organisation", "phone")


def as_form(body: dict[str, Any]) -> FormData:
    """A registration's JSON as the registration form would have sent it, so the form's rules check it."""
    items: list[tuple[str, str | UploadFile]] = [
        (name, body[name]) for name in _TEXTS if isinstance(body.get(name), str)
    ]
    if body.get("consent") == "given":
        items += [("consent_processing", "on"), ("consent_version", str(body.get("consent_version", "")))]
    items += [(name, "on") for name in ("age_confirmed",) if body.get(name)]
    if body.get("marketing"):
        items.append(("consent_marketing", "on"))
    for question_id, value in (body.get("answers") or {}).items():
        values = value if isinstance(value, list) else ["on"] if value is True else [] if value is False else [value]
        items += [(f"q_{question_id}", v) for v in values if isinstance(v, str)]
    return FormData(items)


# The form's names of some errors, as the API's fields.
_ERROR_NAMES = {"consent_processing": "consent_version", "consent_marketing": "marketing"}


def field_errors(errors: dict[str, str]) -> dict[str, str]:
    return {
        _ERROR_NAMES.get(name, f"answers.{name[2:]}" if name.startswith("q_") else name): message
        for name, message in errors.items()
    }


@dataclass(frozen=True)
class Registered:
    """What became of a registration sent to the API: its kind (services.REGISTERED, DUPLICATE, …), the new
    registration's id, each field's error, the state of a closed event."""

    kind: str
    registration_id: int | None = None
    errors: dict[str, str] | None = None
    state: str | None = None


def _imported_data(form: FormData, ctx: batch.EventContext, errors: dict[str, str]) -> RegistrationData | None:
    """An imported person's data, checked as an import checks a row (their fields and answers; no consent given)."""
    details = forms.parse_details(form, ctx.event, errors)
    answers = parse_answers(form, ctx.questions, errors)
    if errors:
        return None
    return RegistrationData(**asdict(details), consent_version=0, marketing=False, age_confirmed=False, answers=answers)


async def register(
    db: DB, registrar: Registrar, ctx: batch.EventContext, body: dict[str, Any], meta: RequestMeta, token: Token
) -> Registered:
    """Register the person of `body` through the Registrar, as the form does (consent `given`: the same parse, paths
    and rules), or on the basis `imported` by the locking path; audited when a registration was written."""
    unknown = {str(q) for q in body.get("answers") or {}} - {str(q.id) for q in ctx.questions}
    if unknown:
        return Registered(services.INVALID, errors={f"answers.{q}": "is not a question of this event" for q in unknown})
    language = body.get("language") or ctx.event.language
    form = as_form(body)
    if body["consent"] == "imported":
        errors: dict[str, str] = {}
        data = _imported_data(form, ctx, errors)
        if data is None:
            return Registered(services.INVALID, errors=field_errors(errors))
        kind = await registrar.write_locked(ctx.event, data, meta, language, imported=True)
    else:
        limit = Limit.of(
            registrar.mailer.settings, f"api:register:token:{token.id}", REGISTER_LIMIT, services.RATE_WINDOW
        )
        outcome = await registrar.register(ctx, form, meta, language, limit)
        if outcome.later is not None:  # the notice to an address registered already: no timing to hide from a token
            await outcome.later()
        if outcome.kind == services.INVALID:
            return Registered(services.INVALID, errors=field_errors(outcome.errors), state=outcome.state)
        kind = outcome.kind
        if kind not in (services.REGISTERED, services.DUPLICATE):
            return Registered(kind, state=outcome.state)
    if kind != services.REGISTERED:
        return Registered(kind)
    async with db.transaction() as conn:
        reg = await registration_queries.by_email(conn, ctx.event.id, normalise_email(str(body["email"])))
        assert reg is not None
        await _audit(conn, "api.registration.created", token, ctx.event, reg.id, meta.ip, {"consent": body["consent"]})
    return Registered(kind, reg.id)


async def _audit(conn: Any, action: str, token: Token, event: Event, reg_id: int, ip: str, details: dict) -> None:
    await audit.record(
        conn, action, actor=token.actor, organisation_id=event.organisation_id, event_id=event.id,
        registration_id=reg_id, ip=ip or None, details={"token_id": token.id, **details},
    )  # fmt: skip


DECISIONS = {"approved": "approve", "rejected": "reject"}


async def change_status(db: DB, mailer: Mailer, event: Event, reg_id: int, status: str, token: Token, ip: str) -> bool:
    """Approve, reject or cancel one registration by the staff decision's or the cancellation's rules (their e-mails,
    their seat rules); False when the rules refuse it from its present status."""
    if status in DECISIONS:
        done = await services.decide(db, mailer, event, [reg_id], DECISIONS[status], Actor(None, token.actor, ip)) == 1
    else:
        verdict = await cancellation.cancel(db, mailer, event, reg_id, cancellation.Canceller("api", ip or None))
        done = verdict in (cancellation.Cancel.DONE, cancellation.Cancel.ALREADY)
    if done:
        async with db.transaction() as conn:
            await _audit(conn, "api.registration.status", token, event, reg_id, ip, {"status": status})
    return done
