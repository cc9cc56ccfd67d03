"""Form pieces every domain uses."""

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A button with no fields: the form exists for its CSRF token."""
