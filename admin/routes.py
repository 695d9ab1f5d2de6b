"""The back office's URL table, mounted at /admin."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route

from admin.auth import StaffGuard
from admin.views import account as account_views
from admin.views import audit as audit_views
from admin.views import auth, dashboard
from admin.views import branding as branding_views
from admin.views import certificates as certificate_views
from admin.views import emails as email_views
from admin.views import evaluation as evaluation_views
from admin.views import events as event_views
from admin.views import imports as import_views
from admin.views import messages as message_views
from admin.views import organisations as organisation_views
from admin.views import outbox as outbox_views
from admin.views import password_reset as reset_views
from admin.views import privacy as privacy_views
from admin.views import questions as question_views
from admin.views import registrants as registrant_views
from admin.views import tokens as token_views
from admin.views import users as user_views
from admin.views import webhooks as webhook_views

admin_routes = [
    Route("/", dashboard.dashboard, name="dashboard"),
    Route("/login", auth.login_form, methods=["GET"], name="login_form"),
    Route("/login", auth.login, methods=["POST"], name="login"),
    Route("/login/code", auth.login_code, methods=["POST"], name="login_code"),
    Route("/logout", auth.logout, methods=["POST"], name="logout"),
    Route("/password-reset", reset_views.ask_form, methods=["GET"], name="password_reset_ask_form"),
    Route("/password-reset", reset_views.ask, methods=["POST"], name="password_reset_ask"),
    Route("/password-reset/{token}", reset_views.reset_form, methods=["GET"], name="password_reset_form"),
    Route("/password-reset/{token}", reset_views.reset, methods=["POST"], name="password_reset"),
    Route("/account", account_views.account, methods=["GET"], name="account"),
    Route("/account/language", account_views.account_language, methods=["POST"], name="account_language"),
    Route("/account/password", account_views.password_change, methods=["POST"], name="account_password"),
    Route("/account/approval-digest", account_views.approval_digest, methods=["POST"], name="account_digest"),
    Route("/account/two-factor", account_views.two_factor_start, methods=["POST"], name="account_2fa_start"),
    Route(
        "/account/two-factor/confirm", account_views.two_factor_confirm, methods=["POST"], name="account_2fa_confirm"
    ),
    Route(
        "/account/two-factor/recovery-codes",
        account_views.two_factor_codes,
        methods=["POST"],
        name="account_2fa_codes",
    ),
    Route("/account/two-factor/off", account_views.two_factor_off, methods=["POST"], name="account_2fa_off"),
    Route(
        "/account/logout-everywhere",
        account_views.logout_everywhere,
        methods=["POST"],
        name="account_logout_everywhere",
    ),
    Route("/organisations", organisation_views.organisations, methods=["GET"], name="organisations"),
    Route("/organisations", organisation_views.organisation_create, methods=["POST"], name="organisation_create"),
    Route(
        "/organisations/{organisation_id:int}/branding",
        branding_views.branding,
        methods=["GET"],
        name="organisation_branding",
    ),
    Route(
        "/organisations/{organisation_id:int}/branding/colour",
        branding_views.branding_colour,
        methods=["POST"],
        name="organisation_branding_colour",
    ),
    Route(
        "/organisations/{organisation_id:int}/branding/logo",
        branding_views.branding_logo,
        methods=["POST"],
        name="organisation_branding_logo",
    ),
    Route(
        "/organisations/{organisation_id:int}/branding/logo/remove",
        branding_views.branding_logo_remove,
        methods=["POST"],
        name="organisation_branding_logo_remove",
    ),
    Route(
        "/organisations/{organisation_id:int}/event-editing",
        organisation_views.organisation_event_editing,
        methods=["POST"],
        name="organisation_event_editing",
    ),
    Route("/organisations/{organisation_id:int}/tokens", token_views.tokens_page, name="organisation_tokens_page"),
    Route(
        "/organisations/{organisation_id:int}/tokens",
        token_views.tokens_create,
        methods=["POST"],
        name="organisation_tokens_create",
    ),
    Route(
        "/organisations/{organisation_id:int}/tokens/{token_id:int}/revoke",
        token_views.tokens_revoke,
        methods=["POST"],
        name="organisation_tokens_revoke",
    ),
    Route(
        "/organisations/{organisation_id:int}/webhooks",
        webhook_views.webhooks_page,
        methods=["GET"],
        name="organisation_webhooks_page",
    ),
    Route(
        "/organisations/{organisation_id:int}/webhooks/{subscription_id:int}/test",
        webhook_views.webhook_test,
        methods=["POST"],
        name="organisation_webhook_test",
    ),
    Route("/tokens", token_views.tokens_page, methods=["GET"], name="tokens_page"),
    Route("/tokens", token_views.tokens_create, methods=["POST"], name="tokens_create"),
    Route("/tokens/{token_id:int}/revoke", token_views.tokens_revoke, methods=["POST"], name="tokens_revoke"),
    Route("/users", user_views.users, methods=["GET"], name="users"),
    Route("/users", user_views.user_create, methods=["POST"], name="user_create"),
    Route(
        "/users/{user_id:int}/revoke-sessions",
        user_views.user_revoke_sessions,
        methods=["POST"],
        name="user_revoke_sessions",
    ),
    Route("/users/{user_id:int}/deactivate", user_views.user_deactivate, methods=["POST"], name="user_deactivate"),
    Route("/events/new", event_views.event_new, methods=["GET"], name="event_new"),
    Route("/events", event_views.event_create, methods=["POST"], name="event_create"),
    Route("/events/{event_id:int}", event_views.event, methods=["GET"], name="event"),
    Route("/events/{event_id:int}", event_views.event_update, methods=["POST"], name="event_update"),
    Route("/events/{event_id:int}/edit", event_views.event_edit, methods=["GET"], name="event_edit"),
    Route("/events/{event_id:int}/cancel", event_views.event_cancel, methods=["POST"], name="event_cancel"),
    Route(
        "/events/{event_id:int}/duplicate",
        event_views.event_duplicate_form,
        methods=["GET"],
        name="event_duplicate_form",
    ),
    Route("/events/{event_id:int}/duplicate", event_views.event_duplicate, methods=["POST"], name="event_duplicate"),
    Route("/events/{event_id:int}/message", message_views.message_form, methods=["GET"], name="message_form"),
    Route("/events/{event_id:int}/message", message_views.message_post, methods=["POST"], name="message_post"),
    Route("/events/{event_id:int}/questions", question_views.questions, methods=["GET"], name="questions"),
    Route("/events/{event_id:int}/questions", question_views.questions_post, methods=["POST"], name="questions_post"),
    Route("/events/{event_id:int}/evaluation", evaluation_views.evaluation, methods=["GET"], name="evaluation"),
    Route(
        "/events/{event_id:int}/evaluation",
        evaluation_views.evaluation_post,
        methods=["POST"],
        name="evaluation_post",
    ),
    Route("/events/{event_id:int}/import", import_views.import_form, methods=["GET"], name="import_form"),
    Route("/events/{event_id:int}/import", import_views.import_post, methods=["POST"], name="import_post"),
    Route("/events/{event_id:int}/emails", email_views.emails, methods=["GET"], name="emails"),
    Route("/events/{event_id:int}/emails", email_views.emails_post, methods=["POST"], name="emails_post"),
    Route("/events/{event_id:int}/registrants", registrant_views.registrants, methods=["GET"], name="registrants"),
    Route(
        "/events/{event_id:int}/registrants/approve",
        registrant_views.approve,
        methods=["POST"],
        name="registrants_approve",
    ),
    Route(
        "/events/{event_id:int}/registrants/reject",
        registrant_views.reject,
        methods=["POST"],
        name="registrants_reject",
    ),
    Route(
        "/events/{event_id:int}/registrants/{registration_id:int}",
        registrant_views.registrant,
        methods=["GET"],
        name="registrant",
    ),
    Route(
        "/events/{event_id:int}/registrants/{registration_id:int}/erase",
        privacy_views.registrant_erase_form,
        methods=["GET"],
        name="registrant_erase_form",
    ),
    Route(
        "/events/{event_id:int}/registrants/{registration_id:int}/erase",
        privacy_views.registrant_erase,
        methods=["POST"],
        name="registrant_erase",
    ),
    Route("/events/{event_id:int}/certificates", certificate_views.certificates, methods=["GET"], name="certificates"),
    Route(
        "/events/{event_id:int}/certificates.zip",
        certificate_views.certificates_zip,
        methods=["GET"],
        name="certificates_zip",
    ),
    Route(
        "/events/{event_id:int}/certificates/{certificate_id:int}/revoke",
        certificate_views.certificate_revoke,
        methods=["POST"],
        name="certificate_revoke",
    ),
    Route("/events/{event_id:int}/purge", privacy_views.event_purge_form, methods=["GET"], name="event_purge_form"),
    Route("/events/{event_id:int}/purge", privacy_views.event_purge, methods=["POST"], name="event_purge"),
    Route("/outbox", outbox_views.outbox, methods=["GET"], name="outbox"),
    Route("/outbox/{message_id:int}", outbox_views.outbox_message, methods=["GET"], name="outbox_message"),
    Route("/outbox/{message_id:int}/retry", outbox_views.outbox_retry, methods=["POST"], name="outbox_retry"),
    Route("/audit", audit_views.audit, methods=["GET"], name="audit"),
]

# Deny by default: StaffGuard lets only staff reach a route of the back office, except the ones named here.
PUBLIC = frozenset(
    {
        "login_form",
        "login",
        "login_code",
        "logout",
        "password_reset_ask_form",
        "password_reset_ask",
        "password_reset_form",
        "password_reset",
    }
)
# What an operator may still open before turning on two-factor sign-in when REQUIRE_STAFF_2FA=true.
ENROLMENT = frozenset(
    {
        "account",
        "account_2fa_start",
        "account_2fa_confirm",
        "account_language",
        "account_logout_everywhere",
        "account_password",
    }
)
# Operators only: a 404 for organisers, who should not learn these pages exist.
OPERATOR_ONLY = frozenset(
    {
        "organisations",
        "organisation_create",
        "organisation_event_editing",
        "users",
        "user_create",
        "user_revoke_sessions",
        "user_deactivate",
        "outbox",
        "outbox_message",
        "outbox_retry",
        "tokens_page",  # the platform's tokens see every organisation
        "tokens_create",
        "tokens_revoke",
    }
)
# Operators, and the organisers of an organisation an operator allowed to create and edit its events (a 404 for the
# others); which event an organiser may touch is the organisation check of admin/pages.py `staff_event`.
EVENT_EDITING = frozenset(
    {
        "event_new",
        "event_create",
        "event_edit",
        "event_update",
        "event_cancel",  # who may change an event's times may cancel it
        "event_duplicate_form",
        "event_duplicate",
    }
)

# The routes that take a file, with the body limit of each (every other request: settings.max_body_bytes).
UPLOADS = {r"/admin/events/[0-9]+/import": import_views.BODY_MOST}


def back_office(*more: BaseRoute) -> Mount:
    """The back office at /admin: its own routes and `more` (the reports'), every one behind the one guard."""
    guard = Middleware(
        StaffGuard, public=PUBLIC, operator_only=OPERATOR_ONLY, enrolment=ENROLMENT, event_editing=EVENT_EDITING
    )
    return Mount("/admin", routes=[*admin_routes, *more], name="admin", middleware=[guard])
