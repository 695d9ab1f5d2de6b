"""The JSON Schemas of the API (one place: the OpenAPI document and the checking of request bodies both read them)
and the small checker of the subset they use."""

from __future__ import annotations

from typing import Any

from webinar.tables import STATUSES, WEBHOOK_EVENTS

Schema = dict[str, Any]

_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "boolean": bool, "object": dict, "array": list, "null": type(None),
}  # fmt: skip


def nullable(schema: Schema) -> Schema:
    """`schema` or null (OpenAPI 3.1: a list of types)."""
    return {**schema, "type": [schema["type"], "null"]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


STRING = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
ID = {"type": "integer", "minimum": 1}
CURSOR = {"type": ["string", "null"], "description": "Pass as `cursor` to get the next page; null on the last."}


def page_of(item: str) -> Schema:
    return {
        "type": "object",
        "required": ["data", "next_cursor"],
        "properties": {"data": {"type": "array", "items": ref(item)}, "next_cursor": CURSOR},
        "additionalProperties": False,
    }


def _object(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    required = [name for name in properties if name not in optional]
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


_FIELD_MODE = {"type": "string", "enum": ["required", "optional", "hidden"]}
QUESTION = _object(
    {
        "id": ID, "label": STRING, "kind": STRING, "required": {"type": "boolean"},
        "options": {"type": "array", "items": STRING},
    }
)  # fmt: skip
EVENT = _object(
    {
        "id": ID, "organisation_id": ID, "slug": STRING, "title": STRING, "description": STRING,
        "language": {"type": "string", "enum": ["ro", "en"]}, "timezone": STRING, "starts_at": TIME, "ends_at": TIME,
        "registration_opens_at": nullable(TIME), "registration_closes_at": nullable(TIME),
        "capacity": {"type": ["integer", "null"]}, "approval": {"type": "string", "enum": ["auto", "manual"]},
        "waitlist": {"type": "boolean"}, "status": {"type": "string", "enum": ["scheduled", "cancelled"]},
        "url": STRING, "updated_at": TIME,
    }
)  # fmt: skip
EVENT_DETAIL = {
    **EVENT,
    "required": [*EVENT["required"], "consent_version", "consent_texts", "fields", "questions"],
    "properties": {
        **EVENT["properties"],
        "consent_version": {
            "type": ["integer", "null"],
            "description": "The current consent text in the event's language (else the other's): send it with consent "
            "`given`, or the version of `consent_texts` the person read.",
        },
        "consent_texts": {
            "type": "array",
            "description": "The current consent text in each language the organiser wrote it in.",
            "items": _object(
                {
                    "language": {"type": "string", "enum": ["ro", "en"]},
                    "version": {"type": "integer"},
                    "text": STRING,
                    "sha256": STRING,
                }
            ),
        },
        "fields": _object({name: _FIELD_MODE for name in ("job_title", "member_id", "organisation", "phone")}),
        "questions": {"type": "array", "items": ref("Question")},
    },
}
_OPTIONAL_TEXT = {"type": ["string", "null"], "maxLength": 200}
REGISTRATION = _object(
    {
        "id": ID, "event_id": ID, "email": {"type": ["string", "null"]}, "first_name": {"type": ["string", "null"]},
        "last_name": {"type": ["string", "null"]}, "job_title": {"type": ["string", "null"]},
        "member_id": {"type": ["string", "null"]}, "organisation": {"type": ["string", "null"]},
        "phone": {"type": ["string", "null"]}, "status": {"type": "string", "enum": list(STATUSES)},
        "marketing_opt_in": {"type": "boolean"}, "language": STRING, "created_at": TIME, "updated_at": TIME,
        "decided_at": nullable(TIME), "erased": {"type": "boolean"},
        "answers": {"type": "object", "additionalProperties": STRING,
                    "description": "Answers to the event's questions, by question id."},
    }
)  # fmt: skip
NEW_REGISTRATION = {
    **_object(
        {
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "first_name": {"type": "string", "maxLength": 100},
            "last_name": {"type": "string", "maxLength": 100}, "job_title": _OPTIONAL_TEXT,
            "member_id": _OPTIONAL_TEXT, "organisation": _OPTIONAL_TEXT,
            "phone": {"type": ["string", "null"], "maxLength": 40},
            "consent": {"type": "string", "enum": ["given", "imported"],
                        "description": "`given`: the person agreed to the consent text of `consent_version` (needed: a "
                                       "current version in either language, recorded with its language); "
                                       "`imported`: from the organisation's own list (its basis, not a consent here)."},
            "consent_version": {"type": "integer", "minimum": 1},
            "marketing": {"type": "boolean"}, "age_confirmed": {"type": "boolean"},
            "language": {"type": "string", "enum": ["ro", "en"]},
            "answers": {"type": "object", "additionalProperties": {"type": ["string", "array", "boolean"]},
                        "description": "By question id; a multiple choice as an array, a checkbox as a boolean."},
        },
        optional=("job_title", "member_id", "organisation", "phone", "marketing", "age_confirmed",
                  "language", "answers", "consent_version"),
    )
}  # fmt: skip
STATUS_CHANGE = _object({"status": {"type": "string", "enum": ["approved", "rejected", "cancelled"]}})
SESSION = _object(
    {
        "id": ID, "registration_id": ID, "kind": {"type": "string", "enum": ["live", "replay"]},
        "started_at": TIME, "last_seen_at": TIME, "ended_at": nullable(TIME),
        "end_reason": {"type": ["string", "null"]},
    }
)  # fmt: skip
ATTENDANCE = _object(
    {
        "registration_id": ID, "minutes_live": {"type": "integer"}, "minutes_replay": {"type": "integer"},
        "checks_shown": {"type": "integer"}, "checks_answered": {"type": "integer"}, "qualifies": {"type": "boolean"},
        "certificate": {"type": ["string", "null"]},
    }
)  # fmt: skip
WEBHOOK = _object(
    {
        "id": ID, "url": STRING, "events": {"type": "array", "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)}},
        "created_at": TIME, "disabled": {"type": "boolean"},
        "secret": {"type": "string", "description": "`whsec_…`: only in the answer that creates it."},
    },
    optional=("secret",),
)  # fmt: skip
NEW_WEBHOOK = _object(
    {
        "url": {"type": "string", "format": "uri", "maxLength": 2000},
        "events": {"type": "array", "minItems": 1, "maxItems": len(WEBHOOK_EVENTS),
                   "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)}},
    }
)  # fmt: skip
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": STRING, "title": STRING, "status": {"type": "integer"}, "detail": STRING,
        "errors": {"type": "object", "additionalProperties": STRING, "description": "Each field's error."},
    },
}  # fmt: skip

COMPONENTS: dict[str, Schema] = {
    "Event": EVENT, "EventDetail": EVENT_DETAIL, "Question": QUESTION, "Registration": REGISTRATION,
    "NewRegistration": NEW_REGISTRATION, "StatusChange": STATUS_CHANGE, "Session": SESSION, "Attendance": ATTENDANCE,
    "Webhook": WEBHOOK, "NewWebhook": NEW_WEBHOOK, "Problem": PROBLEM,
    "EventPage": page_of("Event"), "RegistrationPage": page_of("Registration"), "SessionPage": page_of("Session"),
    "AttendancePage": page_of("Attendance"), "WebhookList": {"type": "object", "required": ["data"],
    "properties": {"data": {"type": "array", "items": ref("Webhook")}}, "additionalProperties": False},
}  # fmt: skip


def check(schema: Schema, value: Any, where: str = "") -> dict[str, str]:
    """What is wrong with `value` against `schema` (the subset above), by field path; empty when nothing is."""
    if "$ref" in schema:
        return check(COMPONENTS[schema["$ref"].rsplit("/", 1)[1]], value, where)
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        # A bool is an int in Python, never in JSON.
        if not any(isinstance(value, _TYPES[n]) and not (n == "integer" and isinstance(value, bool)) for n in names):
            return {where or "body": f"must be {' or '.join(names)}"}
    if value is None:
        return {}
    if "enum" in schema and value not in schema["enum"]:
        return {where or "body": "must be one of " + ", ".join(map(str, schema["enum"]))}
    if isinstance(value, str):
        return _check_string(schema, value, where)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < schema.get("minimum", -(2**63)) or value > schema.get("maximum", 2**63 - 1):
            return {where or "body": "is out of range"}
    if isinstance(value, list):
        return _check_array(schema, value, where)
    if isinstance(value, dict):
        return _check_object(schema, value, where)
    return {}


def _check_string(schema: Schema, value: str, where: str) -> dict[str, str]:
    if len(value) > schema.get("maxLength", 10_000) or len(value) < schema.get("minLength", 0):
        return {
            where or "body": f"must have {schema.get('minLength', 0)} to {schema.get('maxLength', 10_000)} characters"
        }
    return {}


def _check_array(schema: Schema, value: list, where: str) -> dict[str, str]:
    if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", 1000):
        return {where or "body": "has the wrong number of items"}
    errors: dict[str, str] = {}
    for n, item in enumerate(value):
        errors |= check(schema.get("items", {}), item, f"{where}[{n}]")
    return errors


def _check_object(schema: Schema, value: dict, where: str) -> dict[str, str]:
    prefix = f"{where}." if where else ""
    errors = {prefix + name: "is required" for name in schema.get("required", ()) if name not in value}
    properties, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            errors |= check(properties[name], item, prefix + name)
        elif extra is False:
            errors[prefix + name] = "is not a known field"
        elif isinstance(extra, dict):
            errors |= check(extra, item, prefix + name)
    return errors
