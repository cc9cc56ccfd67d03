"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi``."""

from rudenim import create_app, settle_for_serving

app = create_app()
settle_for_serving()
