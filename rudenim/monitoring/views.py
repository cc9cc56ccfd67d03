"""Pages of monitoring: periods, roll calls, flags; the banner on every page."""

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from rudenim.auth.access import permission_required
from rudenim.cases import detail_sections, list_extensions
from rudenim.cases.models import Placement
from rudenim.cases.views import get_person_or_404
from rudenim.clock import local_now, local_to_utc, local_today, utcnow
from rudenim.conduct.models import Violation
from rudenim.errors import DomainError, NotFound
from rudenim.extensions import db
from rudenim.forms import flash_form_errors, show_domain_error
from rudenim.monitoring import bp, services
from rudenim.monitoring.forms import (
    ClosePeriodForm,
    FlagDecisionForm,
    FlagForm,
    FlagToldForm,
    FollowUpForm,
    LiftFlagForm,
    PeriodForm,
    RollCallForm,
)
from rudenim.monitoring.models import CheckIn, MonitoringPeriod
from rudenim.web import as_id


def _flash_roll_call_errors(form, case_numbers: dict[int, str]) -> None:
    """Like _flash_errors, but a row's error names its person (not "Entries: {…}")."""
    labels = {
        "outcome": lambda case: _("Outcome for %(case)s", case=case),
        "note": lambda case: _("Note for %(case)s", case=case),
    }
    for name, errors in form.errors.items():
        if name != "entries":
            label = getattr(form, name).label.text if hasattr(form, name) else name
            for error in errors:
                flash(f"{label}: {error}", "error")
    for entry in form.entries:
        person_id = as_id(entry.person_id.data)
        case = case_numbers.get(person_id) or f"#{entry.person_id.data or ''}"
        for field in entry.form:
            for error in field.errors:
                if field.short_name in labels:
                    label = labels[field.short_name](case)
                else:
                    label = field.label.text
                flash(f"{label}: {error}", "error")


@bp.route("/")
@permission_required("monitoring.view")
def index():
    """Periods, roll calls per placement, flags awaiting decision and in force."""
    today = local_today()
    periods = db.session.scalars(
        select(MonitoringPeriod).order_by(MonitoringPeriod.starts_on.desc())
    ).all()
    placements = db.session.scalars(
        select(Placement)
        .where(Placement.is_active.is_(True))
        .order_by(Placement.kind, Placement.name)
    ).all()
    return render_template(
        "monitoring/index.html",
        periods=periods,
        today=today,
        placements=placements,
        period_form=PeriodForm(formdata=None),
        close_form=ClosePeriodForm(formdata=None),
        proposed=services.proposed_flags(),
        active=services.active_flags(today),
        absences=services.open_absences(),
        follow_up_form=FollowUpForm(formdata=None),
        intervals=services.current_intervals(today),
    )


@bp.route("/periods", methods=["POST"])
@permission_required("period.manage")
def create_period():
    """Open a monitoring period."""
    form = PeriodForm()
    if form.validate_on_submit():
        try:
            period = services.create_period(
                name=form.name.data,
                kind=form.kind.data,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                checkin_interval_hours=form.checkin_interval_hours.data,
                notes=form.notes.data or "",
                actor=current_user,
            )
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("The monitoring period %(name)s has been opened.", name=period.name), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("monitoring.index"))


@bp.route("/periods/<int:period_id>/close", methods=["POST"])
@permission_required("period.manage")
def close_period(period_id: int):
    """End a period early; its flags end with it."""
    try:
        period = services.get_period(period_id)
    except NotFound:
        abort(404)
    form = ClosePeriodForm()
    if form.validate_on_submit():
        try:
            services.close_period(period, form.reason.data, actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("The period has been closed."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("monitoring.index"))


@bp.route("/roll-call/<int:placement_id>", methods=["GET", "POST"])
@permission_required("monitoring.view")
def roll_call(placement_id: int):
    """Who is due or overdue here; record everyone's outcome in one submission."""
    placement = db.session.get(Placement, placement_id) or abort(404)
    now = utcnow()
    rows = services.roll_call(placement, now)
    form = RollCallForm()
    if request.method == "POST":
        if not current_user.can("checkin.record"):
            from rudenim.auth.access import deny

            deny("checkin.record", placement_id=placement.id)
        if form.validate_on_submit():
            entries = [
                services.CheckInEntry(
                    person_id=person_id,
                    outcome=entry.outcome.data or "",
                    note=entry.note.data or "",
                )
                for entry in form.entries
                if (person_id := as_id(entry.person_id.data)) is not None
            ]
            try:
                created = services.record_checkins(
                    entries,
                    placement=placement,
                    checked_at=local_to_utc(form.checked_at.data) if form.checked_at.data else None,
                    actor=current_user,
                )
            except DomainError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                db.session.commit()
                count = len(created)
                flash(
                    ngettext("%(num)d check-in recorded.", "%(num)d check-ins recorded.", count),
                    "success",
                )
                return redirect(url_for("monitoring.roll_call", placement_id=placement.id))
        else:
            _flash_roll_call_errors(form, {row.person.id: row.person.case_number for row in rows})
    else:
        form.checked_at.data = local_now().replace(second=0, microsecond=0, tzinfo=None)
        for row in rows:
            form.entries.append_entry({"person_id": row.person.id})
    entries = {person_id: e for e in form.entries if (person_id := as_id(e.person_id.data))}
    return render_template(
        "monitoring/roll_call.html",
        placement=placement,
        rows=rows,
        form=form,
        entries=entries,
        now=now,
    )


@bp.route("/check-ins/<int:checkin_id>/follow-up", methods=["POST"])
@permission_required("checkin.record")
def follow_up(checkin_id: int):
    """Record what was done about an absence."""
    checkin = db.session.get(CheckIn, checkin_id) or abort(404)
    form = FollowUpForm()
    if form.validate_on_submit():
        try:
            services.follow_up_absence(checkin, form.note.data, actor=current_user)
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("The follow-up has been recorded."), "success")
    else:
        flash_form_errors(form)
    return redirect(
        request.referrer if _same_site(request.referrer) else url_for("monitoring.index")
    )


def _same_site(url: str | None) -> bool:
    from rudenim.auth.access import safe_next

    if not url:
        return False
    host = request.host_url
    return url.startswith(host) and safe_next("/" + url[len(host) :]) is not None


def _flag_form(person, formdata=True):
    today = local_today()
    periods = services.active_periods(today)
    upheld = db.session.scalars(
        select(Violation)
        .where(Violation.person_id == person.id, Violation.status.in_(services.UPHELD))
        .order_by(Violation.occurred_at.desc())
    ).all()
    kwargs = {} if formdata else {"formdata": None}
    form = FlagForm(person_id=person.id, **kwargs)
    form.period_id.choices = [(p.id, f"{p.name} (→ {p.last_day().isoformat()})") for p in periods]
    form.violation_id.choices = [(0, "—")] + [
        (v.id, f"#{v.id} {v.rule.code} {v.decided_on.isoformat() if v.decided_on else ''}")
        for v in upheld
    ]
    if not formdata and periods:
        form.ends_on.data = periods[0].last_day()
    return form, periods


@bp.route("/flags/new", methods=["GET", "POST"])
@permission_required("flag.propose")
def propose_flag():
    """Propose a flag for one person (the person is named in the URL)."""
    person_id = as_id(request.values.get("person_id"))
    if person_id is None:
        abort(404)
    person = get_person_or_404(person_id)
    form, periods = _flag_form(person, formdata=request.method == "POST")
    if request.method == "POST" and form.validate_on_submit():
        try:
            flag = services.propose_flag(
                person,
                db.session.get(MonitoringPeriod, form.period_id.data),
                category=form.category.data,
                reason=form.reason.data,
                handling_instructions=form.handling_instructions.data,
                ends_on=form.ends_on.data,
                violation_id=form.violation_id.data or None,
                actor=current_user,
            )
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("The flag has been proposed; another supervisor decides it."), "success")
            return redirect(url_for("monitoring.flag_detail", flag_id=flag.id))
    return render_template("monitoring/flag_new.html", form=form, person=person, periods=periods)


def _get_flag_or_404(flag_id: int):
    try:
        return services.get_flag(flag_id)
    except NotFound:
        abort(404)


@bp.route("/flags/<int:flag_id>")
@permission_required("monitoring.view")
def flag_detail(flag_id: int):
    """One flag: reason, instructions, decision, when the person was told."""
    flag = _get_flag_or_404(flag_id)
    return render_template(
        "monitoring/flag.html",
        flag=flag,
        state=services.flag_state(flag),
        decision_form=FlagDecisionForm(formdata=None),
        lift_form=LiftFlagForm(formdata=None),
        told_form=FlagToldForm(formdata=None, told_on=local_today()),
    )


def _flag_action(flag_id: int, form_class, act, success: str):
    flag = _get_flag_or_404(flag_id)
    form = form_class()
    if form.validate_on_submit():
        try:
            act(flag, form)
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(success, "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("monitoring.flag_detail", flag_id=flag.id))


@bp.route("/flags/<int:flag_id>/decide", methods=["POST"])
@permission_required("flag.decide")
def decide_flag(flag_id: int):
    """Approve or reject a proposed flag (not one's own proposal)."""
    return _flag_action(
        flag_id,
        FlagDecisionForm,
        lambda flag, form: services.decide_flag(
            flag, approve=form.decision.data == "approve", note=form.note.data, actor=current_user
        ),
        _("The decision on the flag has been recorded."),
    )


@bp.route("/flags/<int:flag_id>/lift", methods=["POST"])
@permission_required("flag.decide")
def lift_flag(flag_id: int):
    """End a flag early, with a reason."""
    return _flag_action(
        flag_id,
        LiftFlagForm,
        lambda flag, form: services.lift_flag(flag, form.reason.data, actor=current_user),
        _("The flag has been lifted."),
    )


@bp.route("/flags/<int:flag_id>/told", methods=["POST"])
@permission_required("flag.propose")
def flag_told(flag_id: int):
    """Record when the person was told of the flag."""
    return _flag_action(
        flag_id,
        FlagToldForm,
        lambda flag, form: services.record_flag_told(flag, form.told_on.data, actor=current_user),
        _("Recorded: the person was told of the flag."),
    )


# --- on other pages ------------------------------------------------------------------------------


@bp.app_context_processor
def _monitoring_banner():
    """The banner on every page while a monitoring period is active."""
    from flask_login import current_user as user

    if not getattr(user, "is_authenticated", False):
        return {"active_periods": []}
    return {"active_periods": _periods_shown()}


def _periods_shown():
    """The periods in force today, read once per request for what the page
    shows (the banner and the person page's section both name them)."""
    if "monitoring_periods_shown" not in g:
        g.monitoring_periods_shown = services.active_periods()
    return g.monitoring_periods_shown


def _person_section(person):
    if not current_user.can("monitoring.view"):
        return None
    today = local_today()
    return "monitoring/_person_section.html", {
        "flags": services.flags_of(person),
        "checkins": services.checkins_of(person),
        "state": lambda flag: services.flag_state(flag, today),
        "can_propose": bool(_periods_shown()) and person.is_in_care,
    }


def _flag_marks(person_ids):
    marks = []
    for person_id, flag in services.active_flags_for(person_ids).items():
        text = _("Flag: %(category)s until %(date)s",
                 category=services.category_label(flag.category),
                 date=flag.effective_end().isoformat())  # fmt: skip
        marks.append((person_id, ("tag-flag", text)))
    return marks


detail_sections.append(_person_section)
list_extensions.append(_flag_marks)


@bp.app_template_global()
def flag_category_label(category) -> str:
    return services.category_label(category)


@bp.app_template_global()
def flag_status_label(status) -> str:
    return services.flag_status_label(status)


@bp.app_template_global()
def checkin_outcome_label(outcome) -> str:
    return services.outcome_label(outcome)


@bp.app_template_global()
def period_kind_label(kind) -> str:
    return services.period_kind_label(kind)
