"""How the audit log page shows an entry's details: each key named in the page's language, each value readable."""

from __future__ import annotations

from typing import Any, NamedTuple

from webinar.i18n import N_
from webinar.i18n import gettext as _
from webinar.tables import STATUSES

# The keys the services write (webinar/audit.py callers); one not named here is shown as it is stored.
KEYS = {
    "from": N_("from"), "to": N_("to"), "changed": N_("changed fields"), "status": N_("status"),
    "reason": N_("reason"), "via": N_("through"), "email": N_("e-mail"), "emails": N_("e-mails"),
    "rows": N_("rows"), "kind": N_("kind"), "language": N_("language"), "role": N_("role"),
    "updates_queued": N_("updates queued"), "cancellations_queued": N_("cancellations queued"),
    "retention_days": N_("retention (days)"), "requested_by": N_("requested by"), "erased": N_("erased"),
    "refused": N_("refused"), "completed": N_("completed"), "issued_now": N_("issued now"),
    "number": N_("number"), "report": N_("report"), "format": N_("format"), "slug": N_("address"),
    "separator": N_("separator"), "question_id": N_("question"), "message_id": N_("message"),
    "score": N_("score (%)"), "passed": N_("passed"), "evaluation": N_("final evaluation"),
    "pass_mark": N_("pass mark (%)"), "questions": N_("number of questions"), "token_id": N_("API token"),
    "name": N_("name"), "subscription_id": N_("webhook subscription"), "url": N_("web address"),
    "events": N_("announced events"), "accent_colour": N_("accent colour"), "type": N_("image type"),
    "bytes": N_("size (bytes)"), "sha256": N_("SHA-256"), "size": N_("dimensions (pixels)"),
    "organisers_edit_events": N_("organisers create and edit events"),
    "copied_from": N_("copied from event"), "audience": N_("recipients"), "recipients": N_("number of recipients"),
    "subject": N_("subject"), "event_message_id": N_("message to registrants"),
}  # fmt: skip
# Values that are names in the code (fields, kinds, reports): shown as code, not translated.
AS_CODE = frozenset(
    {"changed", "kind", "report", "format", "slug", "separator", "via", "role", "url", "events", "accent_colour",
     "type", "sha256", "audience"}
)  # fmt: skip


class Detail(NamedTuple):
    label: str
    value: str
    code: bool


def shown(details: dict[str, Any]) -> list[Detail]:
    """The details of one entry, for the page: no `None`, no Python lists or dicts, statuses translated."""
    return [
        Detail(_(KEYS[key]) if key in KEYS else key, _value(value), key in AS_CODE) for key, value in details.items()
    ]


def _value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_value(v)}" for k, v in value.items())
    if isinstance(value, str) and value in STATUSES:
        return _(value)
    return str(value)
