"""The back office's URL table, mounted at /admin."""

from __future__ import annotations

from starlette.routing import Mount, Route

from admin.views import auth, dashboard

admin_routes = [
    Route("/", dashboard.dashboard, name="dashboard"),
    Route("/login", auth.login_form, methods=["GET"], name="login_form"),
    Route("/login", auth.login, methods=["POST"], name="login"),
    Route("/logout", auth.logout, methods=["POST"], name="logout"),
]

routes = [Mount("/admin", routes=admin_routes, name="admin")]
