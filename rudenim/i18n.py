"""Fast translation lookups: one catalogue lookup per request, labels per locale.

Flask-Babel resolves the request's catalogue on every gettext call; a page
with a few hundred strings spent a good part of its time there. Templates here
use the catalogue fetched once per request, and the fixed vocabularies (statuses,
sanctions, categories …) are built once per locale.
"""

from collections.abc import Callable
from functools import wraps

from flask import g, has_request_context, request
from flask_babel import get_locale, get_translations
from jinja2 import pass_context
from markupsafe import Markup


def request_translations():
    """The request's catalogue, looked up once per request."""
    if not has_request_context():
        return get_translations()
    translations = g.get("_translations")
    if translations is None:
        translations = g._translations = get_translations()
    return translations


def install(app) -> None:
    """Make the templates' _(), gettext() and ngettext() use the per-request
    catalogue, and WTForms' messages come from it too."""
    app.before_request(_wtforms_use_this_catalogue)
    app.jinja_env.install_gettext_callables(
        gettext=lambda string: request_translations().ugettext(string),
        ngettext=lambda singular, plural, n: request_translations().ungettext(singular, plural, n),
        pgettext=lambda context, string: request_translations().upgettext(context, string),
        npgettext=lambda context, singular, plural, n: request_translations().unpgettext(
            context, singular, plural, n
        ),
        newstyle=True,
    )
    # The commonest call, _("…") and gettext("…"), in one step, in place of
    # the gettext installed above: Jinja's newstyle gettext, reached through
    # its _ alias, goes through three calls for each of the ~90 strings on a page.
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext)


@pass_context
def _template_gettext(context, string: str, **variables) -> str:
    """Jinja's newstyle gettext: the translation, a format string whose
    variables are escaped where the template autoescapes."""
    translated = request_translations().ugettext(string)
    if context.eval_ctx.autoescape:
        translated = Markup(translated)  # noqa: S704  (our own catalogue, as Jinja's gettext)
    # Always a format string, with or without variables, as Jinja's is.
    return translated % variables


def _wtforms_use_this_catalogue() -> None:
    # Flask-WTF reads WTForms' messages from request.wtforms_translations and
    # would load WTForms' own catalogues there, which have no Indonesian; this
    # one holds them (rudenim/wtforms_messages.py lists them for extraction).
    request.wtforms_translations = request_translations()


def labels_per_locale(build: Callable[[], dict]) -> Callable[[], dict]:
    """Cache ``build() -> {value: translated label}`` once per locale.

    StrEnum members hash like their string values, so either may be looked up.
    """
    cache: dict[str, dict] = {}

    @wraps(build)
    def table() -> dict:
        locale = str(get_locale() or "")
        labels = cache.get(locale)
        if labels is None:
            labels = cache[locale] = {key: str(label) for key, label in build().items()}
        return labels

    return table
