"""The audit log viewer."""

from flask import current_app, render_template, request

from rudenim.audit import bp
from rudenim.audit.forms import AuditFilterForm
from rudenim.audit.services import AuditFilter, filtered_events, known_actions
from rudenim.auth.access import permission_required
from rudenim.extensions import db
from rudenim.web import page_number


@bp.route("/")
@permission_required("audit.view")
def index():
    """The trail, newest first, filtered by user, action, object and dates."""
    form = AuditFilterForm(request.args)
    form.action.choices = [("", "—")] + [(name, name) for name in known_actions()]
    criteria = AuditFilter()
    if form.validate():
        criteria = AuditFilter(
            actor=form.actor.data or None,
            action=form.action.data or None,
            object_type=form.object_type.data or None,
            object_id=form.object_id.data or None,
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
    page = db.paginate(
        filtered_events(criteria),
        page=page_number(),
        per_page=current_app.config["AUDIT_PAGE_SIZE"],
        max_per_page=200,
        error_out=False,
    )
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template("audit/index.html", form=form, page=page, args=args)
