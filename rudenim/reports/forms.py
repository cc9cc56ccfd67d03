"""Forms of the reports: the export request."""

from flask_babel import lazy_gettext as _l

from rudenim.cases.forms import BoardFilterForm
from rudenim.forms import SelectField


class ExportForm(BoardFilterForm):
    """The board's filters plus the column profile (sent by POST, with CSRF)."""

    profile = SelectField(
        _l("Column profile"),
        choices=[("unhcr", "UNHCR"), ("iom", "IOM"), ("internal", _l("Internal"))],
    )
