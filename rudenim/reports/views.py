"""The dashboard."""

from flask import render_template

from rudenim.auth.access import permission_required
from rudenim.reports import bp


@bp.route("/")
@permission_required("dashboard.view")
def dashboard():
    """The centre at a glance (filled in by the registry and monitoring work)."""
    return render_template("reports/dashboard.html")
