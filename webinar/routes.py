"""The public site's URL table."""

from __future__ import annotations

from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from webinar.access import views as access_views
from webinar.branding import views as branding_views
from webinar.certificates import views as certificate_views
from webinar.evaluation import views as evaluation_views
from webinar.events import views as event_views
from webinar.health import healthz, readyz
from webinar.presence.channel import presence
from webinar.privacy import views as privacy_views
from webinar.registration import views as registration_views
from webinar.settings import PROJECT_ROOT

# The router tries each route in turn (a regular expression each), so the ones a rush hits come first: no two
# patterns here match the same path, so the order changes nothing else.
routes = [
    Route("/events/{slug}/join/{token}", access_views.join, methods=["GET"], name="join"),
    Route("/events/{slug}/watch", access_views.watch, methods=["GET"], name="watch"),
    WebSocketRoute("/events/{slug}/presence", presence, name="presence"),
    Route("/events/{slug}/register", registration_views.register, methods=["POST"], name="register"),
    Route("/", event_views.home, name="home"),
    Route("/healthz", healthz, name="healthz"),
    Route("/readyz", readyz, name="readyz"),
    Route("/events/{slug}", registration_views.event_page, name="event"),
    Route("/events/{slug}/registered", registration_views.registered, methods=["GET"], name="registered"),
    Route("/events/{slug}/embed", registration_views.embed_page, methods=["GET"], name="embed"),
    Route("/events/{slug}/embed", registration_views.embed_register, methods=["POST"], name="embed_register"),
    Route(
        "/events/{slug}/embed/registered", registration_views.embed_registered, methods=["GET"], name="embed_registered"
    ),
    Route("/events/{slug}/calendar.ics", registration_views.calendar_file, methods=["GET"], name="calendar"),
    Route("/events/{slug}/login", access_views.login_page, methods=["GET"], name="login_form"),
    Route("/events/{slug}/login", access_views.login, methods=["POST"], name="login"),
    Route("/events/{slug}/send-link", access_views.send_link, methods=["POST"], name="send_link"),
    Route("/events/{slug}/challenge/{form}", access_views.challenge, methods=["GET"], name="proof_challenge"),
    Route("/events/{slug}/logout", access_views.logout, methods=["POST"], name="logout"),
    Route("/events/{slug}/privacy", privacy_views.privacy, methods=["GET"], name="privacy"),
    Route("/events/{slug}/me", privacy_views.me, methods=["GET"], name="me"),
    Route("/events/{slug}/me", privacy_views.me_update, methods=["POST"], name="me_update"),
    Route("/events/{slug}/me/password", privacy_views.me_password, methods=["POST"], name="me_password"),
    Route("/events/{slug}/me/export.json", privacy_views.me_export, methods=["GET"], name="me_export"),
    Route(
        "/events/{slug}/me/certificate.pdf", certificate_views.me_certificate, methods=["GET"], name="me_certificate"
    ),
    Route(
        "/events/{slug}/certificate/{token}",
        certificate_views.certificate_link,
        methods=["GET"],
        name="certificate_link",
    ),
    Route("/events/{slug}/me/evaluation", evaluation_views.evaluation, methods=["GET"], name="me_evaluation"),
    Route(
        "/events/{slug}/me/evaluation", evaluation_views.evaluation_post, methods=["POST"], name="me_evaluation_post"
    ),
    Route("/certificates/{number:path}", certificate_views.verify, methods=["GET"], name="certificate"),
    Route("/events/{slug}/me/erase", privacy_views.me_erase_form, methods=["GET"], name="me_erase_form"),
    Route("/events/{slug}/me/erase", privacy_views.me_erase, methods=["POST"], name="me_erase"),
    Route("/events/{slug}/me/erased", privacy_views.me_erased, methods=["GET"], name="me_erased"),
    Route("/events/{slug}/me/cancel", privacy_views.me_cancel_form, methods=["GET"], name="me_cancel_form"),
    Route("/events/{slug}/me/cancel", privacy_views.me_cancel, methods=["POST"], name="me_cancel"),
    Route("/events/{slug}/cancel/{token}", registration_views.cancel_form, methods=["GET"], name="cancel_form"),
    Route("/events/{slug}/cancel/{token}", registration_views.cancel, methods=["POST"], name="cancel"),
    Route("/events/{slug}/confirm/{token}", registration_views.confirm_form, methods=["GET"], name="confirm_form"),
    Route("/events/{slug}/confirm/{token}", registration_views.confirm_registration, methods=["POST"], name="confirm"),
    Route("/events/{slug}/cancelled", registration_views.cancelled, methods=["GET"], name="cancelled"),
    Route(
        "/events/{slug}/me/confirm-email/{token}",
        privacy_views.me_confirm_email,
        methods=["GET"],
        name="me_confirm_email",
    ),
    Route(
        "/events/{slug}/unsubscribe/{token}", privacy_views.unsubscribe_form, methods=["GET"], name="unsubscribe_form"
    ),
    Route("/events/{slug}/unsubscribe/{token}", privacy_views.unsubscribe, methods=["POST"], name="unsubscribe"),
    Route("/favicon.ico", event_views.favicon, methods=["GET"], name="favicon"),
    Route("/brand/accent-{rrggbb}.css", branding_views.accent, methods=["GET"], name="brand_accent"),
    Route("/brand/{organisation_id:int}/{name}", branding_views.logo, methods=["GET"], name="brand_logo"),
    Mount("/static", app=StaticFiles(directory=PROJECT_ROOT / "static"), name="static"),
]
