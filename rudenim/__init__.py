"""Rudenim: case management for an immigration detention centre."""

import gc
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from flask import Flask, g, has_request_context, request, session
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, config_for_environment

__version__ = "0.1.0"


def settle_for_serving() -> None:
    """In a process that serves requests, once its app is built: leave every
    object loaded by then out of the garbage collector's full passes.

    A full pass in the middle of a request otherwise walks all of Flask,
    SQLAlchemy's mappers and Babel's locale data: it was most of the slowest
    requests' time. ``wsgi.py`` calls this (and the benchmark, which serves the
    same way); tests, which build hundreds of apps, do not, as what is frozen is
    never freed.
    """
    gc.collect()
    gc.freeze()


def create_app(config: type[Config] | Mapping | None = None) -> Flask:
    """Build the application. Cheap and free of side effects on the database."""
    instance_path = os.environ.get("RUDENIM_INSTANCE_PATH")
    if isinstance(config, Mapping) and config.get("RUDENIM_INSTANCE_PATH"):
        instance_path = config["RUDENIM_INSTANCE_PATH"]
    app = Flask(__name__, instance_path=instance_path or None)
    app.config.from_object(config_for_environment())
    if isinstance(config, Mapping):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)

    _configure_storage(app)
    _configure_logging(app)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    _init_extensions(app)
    _register_blueprints(app)
    _register_cli(app)
    _register_templating(app)
    return app


def _configure_storage(app: Flask) -> None:
    """Database URL and secret key, defaulting to files in the instance folder."""
    instance = Path(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'rudenim.sqlite3'}"
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgres://")
    elif uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:///:memory:"):
        instance.mkdir(parents=True, exist_ok=True)

    if not app.config.get("SECRET_KEY"):
        if app.config.get("RUDENIM_ENV") == "production":
            raise RuntimeError("SECRET_KEY must be set when RUDENIM_ENV=production")
        app.config["SECRET_KEY"] = _instance_secret_key(instance)


def _instance_secret_key(instance: Path) -> str:
    """The secret key kept in the instance folder, created (mode 0600) on first run."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _configure_logging(app: Flask) -> None:
    from rudenim.web import RequestIdFilter

    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("rudenim")
    if not logger.handlers:
        logger.addHandler(handler)
    logger.setLevel(app.config["LOG_LEVEL"])
    logger.propagate = False


def _select_locale() -> str:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    locale = None
    if current_user and current_user.is_authenticated:
        locale = current_user.locale
    if not locale and has_request_context():  # the CLI translates too, with no session
        locale = session.get("locale")
    if locale not in languages:
        locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    g.locale = locale
    return locale


def _select_timezone() -> str:
    from flask import current_app

    return current_app.config["TIMEZONE"]


def _init_extensions(app: Flask) -> None:
    from rudenim import i18n
    from rudenim.extensions import babel, csrf, db, limiter, login_manager, migrate, read_first

    db.init_app(app)
    # First of the request hooks: signing the user in reads too.
    app.before_request(read_first)
    migrate.init_app(
        app,
        db,
        directory=str(Path(app.root_path).parent / "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=_select_locale,
        timezone_selector=_select_timezone,
        default_translation_directories="translations",
    )
    i18n.install(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = None  # our own server-side sessions do this


def _register_blueprints(app: Flask) -> None:
    from rudenim import (
        models,  # noqa: F401  (every model, for the mappers and Alembic)
        web,
    )
    from rudenim.audit import bp as audit_bp
    from rudenim.audit import views as _audit_views  # noqa: F401  (routes)
    from rudenim.auth import bp as auth_bp
    from rudenim.auth import views as _auth_views  # noqa: F401  (routes)
    from rudenim.auth.access import load_actor
    from rudenim.cases import bp as cases_bp
    from rudenim.cases import views as _cases_views  # noqa: F401  (routes)
    from rudenim.conduct import bp as conduct_bp
    from rudenim.conduct import views as _conduct_views  # noqa: F401  (routes)
    from rudenim.monitoring import bp as monitoring_bp
    from rudenim.monitoring import views as _monitoring_views  # noqa: F401  (routes)
    from rudenim.reports import bp as reports_bp
    from rudenim.reports import views as _reports_views  # noqa: F401  (routes)

    web.init_app(app)
    app.before_request(load_actor)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(audit_bp, url_prefix="/audit")
    app.register_blueprint(cases_bp, url_prefix="/cases")
    app.register_blueprint(conduct_bp, url_prefix="/conduct")
    app.register_blueprint(monitoring_bp, url_prefix="/monitoring")
    app.register_blueprint(reports_bp)


def _register_cli(app: Flask) -> None:
    from rudenim.audit.cli import audit_cli
    from rudenim.auth.cli import bootstrap, users_cli
    from rudenim.backup import backup_cli
    from rudenim.demo import demo_cli
    from rudenim.reference import reference_cli
    from rudenim.retention import retention_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(bootstrap)
    app.cli.add_command(reference_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(backup_cli)
    app.cli.add_command(retention_cli)


def _register_templating(app: Flask) -> None:
    from rudenim import formatting

    formatting.init_app(app)

    @app.context_processor
    def _layout_context():
        from rudenim.auth.forms import LanguageForm
        from rudenim.clock import local_today
        from rudenim.forms import ActionForm

        return {
            "centre_name": app.config["CENTRE_NAME"],
            "today": local_today(),
            "logout_form": ActionForm(),
            "language_form": LanguageForm(locale=g.get("locale"), next=request.full_path),
        }
