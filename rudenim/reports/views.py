"""The dashboard, verification-status exports and printable lists."""

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from rudenim.auth.access import permission_required
from rudenim.cases import detail_sections
from rudenim.cases.views import active_placements, board_filter_from
from rudenim.errors import DomainError
from rudenim.extensions import db
from rudenim.forms import flash_form_errors
from rudenim.reports import bp, services
from rudenim.reports.dashboard import rendered_figures
from rudenim.reports.forms import ExportForm

PRINT_LIMIT = 2000


@bp.route("/")
@permission_required("dashboard.view")
def dashboard():
    """The centre at a glance: counts, at most DASHBOARD_CACHE_SECONDS old."""
    figures = None
    if current_user.can("case.view"):
        figures = rendered_figures(lambda f: render_template("reports/_figures.html", f=f))
    return render_template("reports/dashboard.html", figures=figures)


def _export_request(fmt: str):
    """Validate the export form and write the ledger; a redirect on refusal."""
    form = ExportForm(request.form, placements=active_placements())
    back = url_for("cases.board", agency=request.form.get("agency") or "unhcr")
    if not form.validate():
        flash_form_errors(form)
        return None, redirect(back)
    try:
        criteria = board_filter_from(form)
        disclosure = services.create_disclosure(
            criteria, form.profile.data, fmt, actor=current_user
        )
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return None, redirect(back)
    db.session.commit()
    return disclosure, None


@bp.route("/reports/verification.csv", methods=["POST"])
@permission_required("export.verification")
def verification_csv():
    """The verification-status list as CSV (UTF-8 with BOM), streamed."""
    disclosure, refusal = _export_request("csv")
    if refusal:
        return refusal
    name = services.file_name(disclosure.profile, "csv")
    return Response(
        stream_with_context(services.csv_chunks(disclosure)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/reports/verification.xlsx", methods=["POST"])
@permission_required("export.verification")
def verification_xlsx():
    """The verification-status list as XLSX, with an "about" sheet."""
    disclosure, refusal = _export_request("xlsx")
    if refusal:
        return refusal
    path = services.xlsx_file(disclosure, current_user.full_name or current_user.username)
    name = services.file_name(disclosure.profile, "xlsx")
    return Response(
        services.file_chunks(path),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/reports/verification/print", methods=["POST"])
@permission_required("export.verification")
def verification_print():
    """The same selection as a page to print and sign."""
    disclosure, refusal = _export_request("print")
    if refusal:
        return refusal
    header, rows = services.printable_rows(disclosure, PRINT_LIMIT)
    return render_template(
        "reports/verification_print.html",
        disclosure=disclosure,
        header=header,
        rows=rows,
        limit=PRINT_LIMIT,
        profile_label=services.profile_label(disclosure.profile),
        centre_name=current_app.config["CENTRE_NAME"],
    )


def _disclosed_section(person):
    """The person page's "Disclosed" entries, for supervisors."""
    if not current_user.can("disclosure.view"):
        return None
    return "reports/_disclosed.html", {
        "disclosures": services.disclosures_of(person.id),
        "profile_label": services.profile_label,
    }


detail_sections.append(_disclosed_section)


@bp.route("/reports/people/<int:person_id>/record")
@permission_required("case.print_record")
def person_record(person_id: int):
    """Everything recorded about one person, to print for a subject-access request."""
    from rudenim.audit.services import history_of, record_event
    from rudenim.cases.services import detention_clock
    from rudenim.cases.views import get_person_or_404
    from rudenim.conduct.models import Violation
    from rudenim.conduct.services import explanations_of
    from rudenim.monitoring.services import checkins_of, flags_of

    person = get_person_or_404(person_id)
    record_event("subject_access_print", object_type="Person", object_id=person.id)
    violations = db.session.scalars(
        select(Violation).where(Violation.person_id == person.id).order_by(Violation.occurred_at)
    ).all()
    return render_template(
        "reports/person_record.html",
        person=person,
        clock=detention_clock(person),
        violations=violations,
        explanations=explanations_of(person),
        flags=flags_of(person),
        checkins=checkins_of(person, limit=10000),
        disclosures=services.disclosures_of(person.id),
        profile_label=services.profile_label,
        history=history_of("Person", person.id, limit=10000),
        centre_name=current_app.config["CENTRE_NAME"],
    )
