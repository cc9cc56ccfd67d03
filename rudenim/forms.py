"""Form pieces every domain uses."""

from collections.abc import Callable, Iterable
from functools import lru_cache

from flask import flash
from flask_babel import get_locale
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import SelectField as _SelectField
from wtforms import SelectMultipleField
from wtforms.validators import Optional, StopValidation, ValidationError
from wtforms.widgets import Select


class SharedChoices(list):
    """A choice list built once and given to every form that offers it.

    QuickSelect keeps the options it rendered from it, per selected value, so a
    select of hundreds of placements or of every country is drawn once, not on
    every page. Never change one: build another (``shared_choices`` does).
    """

    def __init__(self, choices: Iterable = ()):
        super().__init__(choices)
        self.rendered: dict = {}
        self._values: dict = {}

    def values(self, coerce: Callable) -> frozenset:
        """Every choice's value as a field with ``coerce`` holds it."""
        values = self._values.get(coerce)
        if values is None:
            values = self._values[coerce] = frozenset(coerce(choice[0]) for choice in self)
        return values


#: (name, language) -> (the source the choices were built from, the choices)
_SHARED: dict[tuple[str, str], tuple[object, SharedChoices]] = {}


def shared_choices(name: str, source: object, build: Callable[[], Iterable]) -> SharedChoices:
    """The choices ``build()`` returns in the request's language, built again only
    when ``source`` is another object: a cached list of rows the choices come
    from (a new list is new data), or None for choices that never change."""
    key = (name, str(get_locale()))
    held = _SHARED.get(key)
    if held is None or held[0] is not source:
        held = _SHARED[key] = (source, SharedChoices(build()))
    return held[1]


class _WithoutOptions:
    """A select field seen without its choices, so WTForms draws only its tag."""

    def __init__(self, field):
        self._field = field

    def __getattr__(self, name):
        return getattr(self._field, name)

    @staticmethod
    def has_groups():
        return False

    @staticmethod
    def iter_choices():
        return iter(())


class QuickSelect(Select):
    """WTForms' select widget, writing each plain option from a cache.

    The same markup as WTForms' own, without building an attribute dict or
    escaping the same text again per option: lists of hundreds of placements or
    all countries of the world render in a fraction of the time. The options of
    SharedChoices are rendered once per selected value and kept with them.
    """

    #: Selected values whose options one SharedChoices keeps (a filter's values).
    KEPT_SELECTIONS = 64

    def __call__(self, field, **kwargs):
        choices = field.choices
        if self.multiple or not isinstance(choices, SharedChoices):
            return super().__call__(field, **kwargs)
        key = (field.coerce, field.data)
        try:
            options = choices.rendered.get(key)
        except TypeError:  # a value that cannot be a key: draw it as WTForms does
            return super().__call__(field, **kwargs)
        if options is None:
            options = "".join(
                self.render_option(value, label, selected, **render_kw)
                for value, label, selected, render_kw in field.iter_choices()
            )
            if len(choices.rendered) >= self.KEPT_SELECTIONS:
                choices.rendered.clear()
            choices.rendered[key] = options
        tag = str(super().__call__(_WithoutOptions(field), **kwargs))
        return Markup(tag.removesuffix("</select>") + options + "</select>")  # noqa: S704

    @classmethod
    def render_option(cls, value, label, selected, **kwargs):
        if kwargs or value is True:
            return super().render_option(value, label, selected, **kwargs)
        body = _option_body(str(value), str(label))
        return Markup(("<option selected " if selected else "<option ") + body)  # noqa: S704


@lru_cache(maxsize=16384)
def _option_body(value: str, label: str) -> str:
    """An option's escaped value and label (so the option is safe markup): the
    same few thousand texts each time."""
    return f'value="{escape(value)}">{escape(label)}</option>'


class SelectField(_SelectField):
    """A select field drawn with QuickSelect; a value sent for SharedChoices is
    looked up in their set of values, not compared with each choice in turn."""

    widget = QuickSelect()

    def pre_validate(self, form):
        if self.validate_choice and isinstance(self.choices, SharedChoices):
            try:
                known = self.data in self.choices.values(self.coerce)
            except TypeError:  # a value that cannot be in a set is not a choice
                known = False
            if not known:
                raise ValidationError(self.gettext("Not a valid choice."))
            return
        super().pre_validate(form)


class ActionForm(FlaskForm):
    """A button with no fields: the form exists for its CSRF token."""


class OptionalChoice(Optional):
    """``Optional()`` for choice fields: a blank choice means no choice.

    ``Optional()`` stops validation when the first value sent is blank, and the
    "not one of the choices" error goes with it, so ``?severity=%20`` or
    ``status=&status=bogus`` reached the query as values no enum has (a 500).
    This also forgets the blank value: None, or an empty list.
    """

    def __call__(self, form, field):
        try:
            super().__call__(form, field)
        except StopValidation:
            field.data = [] if isinstance(field, SelectMultipleField) else None
            raise


def show_domain_error(form, exc) -> None:
    """Show a rule's refusal under the field it is about, or as a message."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, str(exc)]
    else:
        flash(str(exc), "error")


def flash_form_errors(form) -> None:
    """Flash each validation error with its field's label (forms posted from a page
    that shows no form of their own)."""
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        for error in errors:
            flash(f"{label}: {error}", "error")
