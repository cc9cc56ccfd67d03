"""Form pieces every domain uses."""

from functools import lru_cache

from flask import flash
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import SelectField as _SelectField
from wtforms import SelectMultipleField
from wtforms.validators import Optional, StopValidation
from wtforms.widgets import Select


class QuickSelect(Select):
    """WTForms' select widget, writing each plain option from a cache.

    The same markup as WTForms' own, without building an attribute dict or
    escaping the same text again per option: lists of hundreds of placements or
    all countries of the world render in a fraction of the time.
    """

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
    """A select field drawn with QuickSelect."""

    widget = QuickSelect()


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
