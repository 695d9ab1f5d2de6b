"""The ASGI entry point: `uvicorn asgi:app`."""

from webinar.app import create_app

app = create_app()
