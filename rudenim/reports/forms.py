"""Forms of the reports: the export request."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from rudenim.cases.forms import BoardFilterForm


class ExportForm(BoardFilterForm):
    """The board's filters plus the column profile (sent by POST, with CSRF)."""

    profile = SelectField(
        _l("Column profile"),
        choices=[("unhcr", "UNHCR"), ("iom", "IOM"), ("internal", _l("Internal"))],
    )
