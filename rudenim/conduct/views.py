"""Pages of the violation process, the supervisors' log and the catalogue."""

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from rudenim.audit.services import record_event
from rudenim.auth.access import deny, permission_required
from rudenim.cases import detail_sections, list_extensions
from rudenim.cases import services as cases_services
from rudenim.cases.models import Person, Placement, PlacementKind
from rudenim.cases.views import get_person_or_404
from rudenim.clock import local_now, local_today, to_local
from rudenim.conduct import bp, services
from rudenim.conduct.forms import (
    AmendmentForm,
    AppealDecisionForm,
    AppealForm,
    DecisionForm,
    EvidenceForm,
    ExplanationForm,
    LogFilterForm,
    NotifyForm,
    ReportForm,
    RuleForm,
    StatementForm,
)
from rudenim.conduct.models import HouseRule, Violation
from rudenim.errors import DomainError, NotFound, PermissionDenied
from rudenim.exports import csv_stream
from rudenim.extensions import db, read_only_connection
from rudenim.forms import flash_form_errors, show_domain_error
from rudenim.web import as_id, page_number


def _language() -> str:
    # Ask Babel, not g: g.locale is set only once something was translated.
    locale = get_locale()
    return locale.language if locale is not None else "id"


def get_violation_or_404(violation_id: int) -> Violation:
    """Load a violation this user may see, or answer 404/403."""
    try:
        violation = services.get_violation(violation_id)
    except NotFound:
        abort(404)
    reported_by_another = violation.reported_by_id != current_user.id
    if reported_by_another and not services.sees_all_violations(current_user):
        deny("violation.view_all", violation_id=violation_id)
    return violation


def _centre_placements():
    return db.session.execute(
        select(Placement.id, Placement.name)
        .where(Placement.is_active.is_(True), Placement.kind == PlacementKind.CENTRE)
        .order_by(Placement.name)
    ).all()


def _log_filter(form: LogFilterForm) -> services.LogFilter:
    return services.LogFilter(
        statuses=form.status.data or [],
        date_from=form.date_from.data,
        date_to=form.date_to.data,
        rule_id=form.rule_id.data or None,
        severity=form.severity.data or None,
        placement_id=form.placement_id.data or None,
        person=form.person.data or None,
    )


def _log_form():
    rules = db.session.scalars(select(HouseRule).order_by(HouseRule.code)).all()
    # The log's page only shows them (a GET): the worker's list may serve.
    placements = cases_services.all_placements(reuse=True)
    return LogFilterForm(request.args, rules=rules, placements=placements)


@bp.route("/")
@permission_required("violation.view")
def index():
    """The violation log: queue awaiting review, counts, filtered list."""
    form = _log_form()
    criteria = services.LogFilter(statuses=[])
    if form.validate():
        criteria = _log_filter(form)
    else:
        flash(_("Some filters were not valid and were not applied."), "warning")
    page = db.paginate(
        services.log_query(criteria, current_user).options(*services.list_options()),
        page=page_number(),
        per_page=50,
        error_out=False,
    )
    args = {
        key: request.args.getlist(key)
        for key in request.args
        if key != "page" and any(request.args.getlist(key))
    }
    return render_template(
        "conduct/index.html",
        form=form,
        page=page,
        args=args,
        queue=services.review_queue(current_user),
        counts=services.status_counts(current_user),
        is_overdue=services.is_review_overdue,
        review_days=current_app.config["REVIEW_DUE_DAYS"],
    )


@bp.route("/new", methods=["GET", "POST"])
@permission_required("violation.report")
def report():
    """Report a breach of one house rule by one person."""
    rules = services.active_rules()
    person_id = as_id(request.args.get("person_id"))
    initial = {}
    if person_id and request.method == "GET":
        person = db.session.get(Person, person_id)
        if person is not None:
            initial["person"] = person.case_number
        initial["occurred_at"] = None
    form = ReportForm(rules=rules, language=_language(), **initial)
    if form.validate_on_submit():
        person = db.session.scalar(
            select(Person).where(Person.case_number == form.person.data.strip().upper())
        )
        if person is None:
            form.person.errors = [
                *form.person.errors,
                _("There is no person with that case number."),
            ]
        else:
            try:
                violation = services.report_violation(
                    person,
                    services.ReportData(
                        rule_id=form.rule_id.data or None,
                        occurred_at=form.occurred_at.data,
                        location=form.location.data,
                        description=form.description.data,
                        witnesses=form.witnesses.data or "",
                        severity=form.severity.data,
                    ),
                    actor=current_user,
                )
            except DomainError as exc:
                db.session.rollback()
                show_domain_error(form, exc)
            else:
                db.session.commit()
                flash(_("The violation has been reported for review."), "success")
                return redirect(url_for("conduct.detail", violation_id=violation.id))
    return render_template("conduct/report.html", form=form, rules=rules)


@bp.route("/<int:violation_id>")
@permission_required("violation.view")
def detail(violation_id: int):
    """One violation with its review steps, decision, appeal and amendments."""
    violation = get_violation_or_404(violation_id)
    record_event("view", object_type="Violation", object_id=violation.id,
                 subject=("Person", violation.person_id))  # fmt: skip
    return render_template(
        "conduct/detail.html",
        v=violation,
        notify_form=NotifyForm(formdata=None, notified_on=local_today()),
        statement_form=StatementForm(formdata=None),
        evidence_form=EvidenceForm(formdata=None),
        appeal_form=AppealForm(formdata=None),
        appeal_decision_form=AppealDecisionForm(formdata=None),
        amendment_form=AmendmentForm(formdata=None),
        missing=services.missing_steps(violation),
        can_decide=services.can_decide(violation, current_user),
        deadline=services.appeal_deadline(violation),
        occurred=to_local(violation.occurred_at),
        language=_language(),
        overdue=services.is_review_overdue(violation),
    )


def _review_step(violation_id: int, form_class, act, success: str):
    violation = get_violation_or_404(violation_id)
    form = form_class()
    if form.validate_on_submit():
        try:
            act(violation, form)
        except PermissionDenied as exc:
            db.session.rollback()
            flash(str(exc), "error")
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(success, "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("conduct.detail", violation_id=violation.id))


@bp.route("/<int:violation_id>/notify", methods=["POST"])
@permission_required("violation.review")
def notify(violation_id: int):
    """Record that the charge was made known to the person."""
    return _review_step(
        violation_id,
        NotifyForm,
        lambda v, f: services.notify_charge(
            v,
            f.notified_on.data,
            f.language.data,
            f.interpreter.data or "",
            no_interpreter_needed=f.no_interpreter_needed.data,
            actor=current_user,
        ),
        _("Recorded: the charge was made known."),
    )


@bp.route("/<int:violation_id>/statement", methods=["POST"])
@permission_required("violation.review")
def statement(violation_id: int):
    """Record the person's statement or that they declined."""
    return _review_step(
        violation_id,
        StatementForm,
        lambda v, f: services.record_statement(
            v, f.statement.data or "", declined=f.declined.data, actor=current_user
        ),
        _("The statement has been recorded."),
    )


@bp.route("/<int:violation_id>/evidence", methods=["POST"])
@permission_required("violation.review")
def evidence(violation_id: int):
    """Record the evidence considered."""
    return _review_step(
        violation_id,
        EvidenceForm,
        lambda v, f: services.record_evidence(v, f.evidence.data, actor=current_user),
        _("The evidence has been recorded."),
    )


@bp.route("/<int:violation_id>/decide", methods=["GET", "POST"])
@permission_required("violation.decide")
def decide(violation_id: int):
    """Uphold or dismiss, with reasons and at most one bounded sanction."""
    violation = get_violation_or_404(violation_id)
    if violation.is_decided:
        flash(_("This violation has been decided; it can only be amended, with a reason."), "error")
        return redirect(url_for("conduct.detail", violation_id=violation.id))
    if not services.can_decide(violation, current_user):
        flash(_("You reported this violation. Another supervisor must decide it."), "error")
        return redirect(url_for("conduct.detail", violation_id=violation.id))
    form = DecisionForm(
        rule=violation.rule,
        placements=_centre_placements(),
        appeal_rights_told_on=local_today() if request.method == "GET" else None,
    )
    if form.validate_on_submit():
        try:
            services.decide_violation(
                violation,
                services.DecisionData(
                    outcome=form.outcome.data,
                    reasons=form.reasons.data,
                    alternatives_considered=form.alternatives_considered.data or "",
                    sanction=form.sanction.data or None,
                    privilege=form.privilege.data or "",
                    ends_on=form.ends_on.data,
                    appeal_rights_told_on=form.appeal_rights_told_on.data,
                    placement_id=form.placement_id.data or None,
                ),
                actor=current_user,
            )
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("The decision has been recorded."), "success")
            return redirect(url_for("conduct.detail", violation_id=violation.id))
    return render_template(
        "conduct/decide.html",
        v=violation,
        form=form,
        missing=services.missing_steps(violation),
        language=_language(),
    )


@bp.route("/<int:violation_id>/appeal", methods=["POST"])
@permission_required("violation.appeal")
def appeal(violation_id: int):
    """Record the person's appeal against an upheld decision."""
    return _review_step(
        violation_id,
        AppealForm,
        lambda v, f: services.record_appeal(
            v, f.appealed_on.data, f.grounds.data, actor=current_user
        ),
        _("The appeal has been recorded."),
    )


@bp.route("/<int:violation_id>/appeal/decide", methods=["POST"])
@permission_required("violation.appeal")
def decide_appeal(violation_id: int):
    """A supervisor other than the decider decides the appeal."""

    def act(violation, form):
        warning = services.decide_appeal(
            violation, form.outcome.data, form.reasons.data, actor=current_user
        )
        if warning:
            flash(warning, "warning")

    return _review_step(
        violation_id, AppealDecisionForm, act, _("The appeal decision has been recorded.")
    )


@bp.route("/<int:violation_id>/amend", methods=["POST"])
@permission_required("violation.amend")
def amend(violation_id: int):
    """Correct a decided violation by an amendment with a reason."""
    return _review_step(
        violation_id,
        AmendmentForm,
        lambda v, f: services.amend_violation(
            v, f.field.data, f.value.data, f.reason.data, actor=current_user
        ),
        _("The amendment has been recorded."),
    )


def _log_headers() -> list[str]:
    return [
        "#",
        _("When"),
        _("Case number"),
        _("Name"),
        _("Rule"),
        _("Severity"),
        _("Status"),
        _("Where"),
        _("Reported by"),
        _("Decided on"),
        _("Sanction"),
        _("Sanction ends"),
    ]


@bp.route("/export.csv", methods=["POST"])
@permission_required("export.violations")
def export_csv():
    """The filtered log as CSV: only the log's own columns, streamed, audited."""
    form = LogFilterForm(
        request.form,
        rules=db.session.scalars(select(HouseRule)).all(),
        placements=db.session.scalars(select(Placement)).all(),
    )
    if not form.validate():
        flash_form_errors(form)
        return redirect(url_for("conduct.index"))
    criteria = _log_filter(form)
    query = services.log_query(criteria, current_user)
    count = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    record_event(
        "export",
        object_type="ViolationLog",
        details={
            "format": "csv",
            "rows": count,
            "filters": {k: v for k, v in vars(criteria).items() if v not in (None, [], "")},
        },
    )
    db.session.commit()

    def rows():
        # A connection of its own that never takes SQLite's write lock.
        with read_only_connection() as connection:
            result = connection.execute(
                services.log_export_query(query), execution_options={"yield_per": 500}
            )
            for row in result:
                yield [
                    row.id,
                    to_local(row.occurred_at).strftime("%Y-%m-%d %H:%M"),
                    row.case_number,
                    row.full_name,
                    row.rule_code,
                    services.severity_label(row.severity),
                    services.status_label(row.status),
                    row.location,
                    row.reported_by,
                    row.decided_on.isoformat() if row.decided_on else "",
                    services.sanction_label(row.sanction) if row.sanction else "",
                    row.sanction_ends_on.isoformat() if row.sanction_ends_on else "",
                ]

    name = f"violations-{local_now().date().isoformat()}.csv"
    return Response(
        stream_with_context(csv_stream(_log_headers(), rows())),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- explaining the rules (person page) -----------------------------------------------------


@bp.route("/people/<int:person_id>/rules-explained", methods=["POST"])
@permission_required("rules.explain")
def explain_rules(person_id: int):
    """Record when and in which language the house rules were explained."""
    person = get_person_or_404(person_id)
    form = ExplanationForm()
    if form.validate_on_submit():
        try:
            services.record_rules_explanation(
                person,
                form.explained_on.data,
                form.language.data,
                form.interpreter.data or "",
                actor=current_user,
            )
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Recorded: the house rules were explained."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("cases.detail", person_id=person.id, _anchor="conduct"))


def _person_section(person):
    if not current_user.can("violation.view"):
        return None
    return "conduct/_person_section.html", {
        "violations": services.violations_of(person, current_user),
        "explanations": services.explanations_of(person),
        "explanation_form": ExplanationForm(formdata=None, explained_on=local_today()),
        "today": local_today(),
    }


def _sanction_marks(person_ids):
    from flask_babel import gettext

    marks = []
    for person_id, violation in services.active_sanctions(person_ids).items():
        text = gettext(
            "%(sanction)s until %(date)s",
            sanction=services.sanction_label(violation.sanction),
            date=violation.sanction_ends_on.isoformat(),
        )
        marks.append((person_id, ("tag-sanction", text)))
    return marks


detail_sections.append(_person_section)
list_extensions.append(_sanction_marks)


# --- the catalogue (admin) ------------------------------------------------------------------------


@bp.route("/rules/")
@permission_required("reference.manage")
def rules():
    """The house-rule catalogue."""
    catalogue = db.session.scalars(select(HouseRule).order_by(HouseRule.code)).all()
    return render_template("conduct/rules.html", rules=catalogue, language=_language())


def _rule_form_page(rule: HouseRule | None):
    if rule is not None and request.method == "GET":
        allowed = {row.sanction.value: row.max_days for row in rule.sanctions}
        form = RuleForm(
            obj=rule,
            verbal_warning="verbal_warning" in allowed,
            written_warning="written_warning" in allowed,
            privilege_restriction_days=allowed.get("privilege_restriction"),
            transfer_to_detention_days=allowed.get("transfer_to_detention"),
            police_referral="police_referral" in allowed,
        )
    else:
        form = RuleForm()
    if form.validate_on_submit():
        try:
            services.save_rule(
                rule,
                code=form.code.data,
                title_id=form.title_id.data,
                title_en=form.title_en.data,
                description_id=form.description_id.data or "",
                description_en=form.description_en.data or "",
                is_criminal=form.is_criminal.data,
                is_active=form.is_active.data,
                sanctions=form.sanctions(),
            )
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("The house rule has been saved."), "success")
            return redirect(url_for("conduct.rules"))
    return render_template("conduct/rule_form.html", form=form, rule=rule)


@bp.route("/rules/new", methods=["GET", "POST"])
@permission_required("reference.manage")
def new_rule():
    """Add a house rule with the sanctions it allows."""
    return _rule_form_page(None)


@bp.route("/rules/<int:rule_id>", methods=["GET", "POST"])
@permission_required("reference.manage")
def edit_rule(rule_id: int):
    """Change a house rule or the sanctions it allows."""
    rule = db.session.get(HouseRule, rule_id) or abort(404)
    return _rule_form_page(rule)


@bp.app_template_global()
def sanction_label(sanction) -> str:
    return services.sanction_label(sanction)


@bp.app_template_global()
def violation_status_label(status) -> str:
    return services.status_label(status)


@bp.app_template_global()
def severity_label(severity) -> str:
    return services.severity_label(severity)
