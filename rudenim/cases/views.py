"""Pages of the people registry."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from rudenim.audit.services import history_of, history_query, record_event
from rudenim.auth.access import deny, permission_required
from rudenim.cases import bp, services, verification
from rudenim.cases.forms import (
    BoardFilterForm,
    BulkStepForm,
    CustodyForm,
    DetentionReviewForm,
    EditPersonForm,
    EthnicityForm,
    PeopleFilterForm,
    PlacementForm,
    RegisterForm,
    VerificationStepForm,
    legal_category_choices,
    sex_choices,
    vulnerability_choices,
)
from rudenim.cases.models import (
    Agency,
    EthnicitySuggestion,
    Person,
    Placement,
    VerificationStatus,
)
from rudenim.errors import DomainError, NotFound, StaleRecord
from rudenim.extensions import db
from rudenim.forms import ActionForm, flash_form_errors, show_domain_error
from rudenim.i18n import labels_per_locale
from rudenim.web import as_id, page_number

PAGE_SIZES = (10, 25, 50, 100)
# The person page shows the newest events of its history; the rest are a page of their own.
RECENT_HISTORY = 20


def get_person_or_404(person_id: int, options=()) -> Person:
    """Load a person for a page, or answer 404."""
    try:
        return services.get_person(person_id, options)
    except NotFound:
        abort(404)


def active_placements():
    """Placements in use, for choice lists: a page that only shows them may reuse
    the worker's list; a form that is sent is checked against the current one."""
    return services.active_placements(reuse=request.method in ("GET", "HEAD"))


def _person_data(form) -> services.PersonData:
    return services.PersonData(
        full_name=form.full_name.data or "",
        sex=form.sex.data,
        nationality=form.nationality.data,
        legal_category=form.legal_category.data,
        arrived_on=form.arrived_on.data,
        date_of_birth=form.date_of_birth.data,
        is_birth_date_estimated=form.is_birth_date_estimated.data,
        age_years=form.age_years.data,
        claimed_ethnicity=form.claimed_ethnicity.data,
        languages=form.languages.data,
        needs_interpreter=form.needs_interpreter.data,
        vulnerabilities=form.vulnerabilities.data or [],
        aliases=form.alias_list(),
        identifiers=form.identifier_values(),
        notes=form.notes.data,
    )


def _filter_from(form: PeopleFilterForm) -> services.PeopleFilter:
    return services.PeopleFilter(
        q=form.q.data or "",
        status=form.status.data or [],
        placement_id=form.placement_id.data or None,
        nationality=form.nationality.data or None,
        ethnicity=form.ethnicity.data or None,
        legal_category=form.legal_category.data or None,
        vulnerability=form.vulnerability.data or None,
        arrived_from=form.arrived_from.data,
        arrived_to=form.arrived_to.data,
        include_left=form.include_left.data,
        sort=request.args.get("sort", "case_number"),
        descending=request.args.get("dir") == "desc",
    )


@bp.route("/")
@permission_required("case.view")
def index():
    """Find people: one search box, filters, sortable columns, pages."""
    placements = active_placements()
    form = PeopleFilterForm(request.args, placements=placements)
    criteria = services.PeopleFilter()
    if form.validate():
        criteria = _filter_from(form)
    else:
        flash(_("Some filters were not valid and were not applied."), "warning")
    per_page = request.args.get("per_page", 25, type=int)
    per_page = per_page if per_page in PAGE_SIZES else 25
    page = db.paginate(
        services.people_query(criteria).options(*services.list_options()),
        page=page_number(),
        per_page=per_page,
        error_out=False,
    )
    args = {
        key: request.args.getlist(key)
        for key in request.args
        if key not in ("page",) and any(request.args.getlist(key))
    }
    return render_template(
        "cases/index.html",
        form=form,
        page=page,
        args=args,
        criteria=criteria,
        per_page=per_page,
        page_sizes=PAGE_SIZES,
        sort_args={k: v for k, v in args.items() if k not in ("sort", "dir")},
        extras=_list_extras(page.items),
    )


def _list_extras(people):
    """Marks other domains add to list rows (active flags, sanctions …)."""
    from rudenim.cases import list_extensions

    marks = {person.id: [] for person in people}
    for extension in list_extensions:
        for person_id, mark in extension([person.id for person in people]):
            marks.setdefault(person_id, []).append(mark)
    return marks


@bp.route("/new", methods=["GET", "POST"])
@permission_required("case.create")
def register():
    """Register a person, after a look at possible duplicates."""
    form = RegisterForm(placements=active_placements())
    matches, holder = [], None
    if form.validate_on_submit():
        confirmed = []
        if form.confirm_different.data and form.confirmed_ids.data:
            confirmed = [i for i in map(as_id, form.confirmed_ids.data.split(",")) if i]
        try:
            person = services.register_person(
                _person_data(form),
                services.CustodyData(
                    status=form.status.data,
                    placement_id=form.placement_id.data or None,
                    effective_on=form.arrived_on.data,
                ),
                actor=current_user,
                confirmed_different_from=confirmed,
            )
        except services.PossibleDuplicates as exc:
            db.session.rollback()
            matches = exc.matches
            form.confirmed_ids.data = ",".join(str(m.person.id) for m in matches)
            form.confirm_different.data = False
            flash(str(exc), "warning")
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc)
            holder = getattr(exc, "other", None)
        else:
            db.session.commit()
            flash(
                _(
                    "%(name)s is registered as %(case)s.",
                    name=person.full_name,
                    case=person.case_number,
                ),
                "success",
            )
            if services.placement_is_over_capacity(person.placement):
                flash(_("%(place)s is now over capacity.", place=person.placement.name), "warning")
            return redirect(url_for("cases.detail", person_id=person.id))
    return render_template(
        "cases/register.html",
        form=form,
        matches=matches,
        holder=holder,
        ethnicities=services.ethnicity_suggestions(),
    )


def person_sections(person: Person) -> list:
    """Sections other domains add to the person page (verification, violations …)."""
    from rudenim.cases import detail_sections

    sections = []
    for section in detail_sections:
        rendered = section(person)
        if rendered:
            sections.append(rendered)
    return sections


@bp.route("/<int:person_id>")
@permission_required("case.view")
def detail(person_id: int):
    """Everything about one person; every view is recorded in the audit trail."""
    person = get_person_or_404(person_id, services.page_options())
    record_event("view", object_type="Person", object_id=person.id)
    placements = active_placements()
    history = None
    if current_user.can("case.history"):
        history = history_of("Person", person.id, limit=RECENT_HISTORY + 1)
    return render_template(
        "cases/detail.html",
        person=person,
        clock=services.detention_clock(person),
        custody_form=CustodyForm(placements=placements, formdata=None),
        review_form=DetentionReviewForm(formdata=None),
        step_form=VerificationStepForm(formdata=None),
        agencies=list(Agency),
        track_of=verification.track_of,
        is_stalled=verification.is_stalled,
        history=history[:RECENT_HISTORY] if history is not None else None,
        more_history=history is not None and len(history) > RECENT_HISTORY,
        sections=person_sections(person),
        review_days=current_app.config["DETENTION_REVIEW_DAYS"],
    )


@bp.route("/<int:person_id>/history")
@permission_required("case.history")
def history(person_id: int):
    """Every event about one person and their records, newest first, in pages."""
    person = get_person_or_404(person_id)
    record_event("view", object_type="Person", object_id=person.id, details={"page": "history"})
    page = db.paginate(
        history_query("Person", person.id),
        page=page_number(),
        per_page=current_app.config["AUDIT_PAGE_SIZE"],
        error_out=False,
    )
    return render_template("cases/history.html", person=person, page=page)


@bp.route("/<int:person_id>/edit", methods=["GET", "POST"])
@permission_required("case.edit")
def edit(person_id: int):
    """Change identity data; a concurrent save is shown, never overwritten."""
    person = get_person_or_404(person_id)
    form = EditPersonForm(obj=None if request.method == "POST" else _form_values(person))
    stale = holder = None
    if form.validate_on_submit():
        try:
            version = str(form.version.data or "")
            services.update_person(
                person,
                _person_data(form),
                # A version that is not a number cannot be the current one: stale.
                expected_version=int(version) if version.isdigit() else 0,
            )
        except StaleRecord as exc:
            db.session.rollback()
            stale = _differences(form, exc.current)
            form.version.data = exc.current.version
            flash(str(exc), "warning")
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc)
            holder = getattr(exc, "other", None)
        else:
            db.session.commit()
            flash(_("The record has been saved."), "success")
            return redirect(url_for("cases.detail", person_id=person.id))
    return render_template(
        "cases/edit.html",
        form=form,
        person=person,
        stale=stale,
        holder=holder,
        ethnicities=services.ethnicity_suggestions(),
    )


class _Values:
    """An object whose attributes pre-fill the edit form."""

    def __init__(self, **values):
        self.__dict__.update(values)


def _form_values(person: Person) -> _Values:
    identifiers = {identifier.kind.value: identifier.value for identifier in person.identifiers}
    return _Values(
        full_name=person.full_name,
        aliases="\n".join(alias.name for alias in person.aliases),
        sex=person.sex.value,
        date_of_birth=person.date_of_birth,
        is_birth_date_estimated=person.is_birth_date_estimated,
        age_years=None,
        nationality=person.nationality,
        claimed_ethnicity=person.claimed_ethnicity,
        languages=person.languages,
        needs_interpreter=person.needs_interpreter,
        legal_category=person.legal_category.value,
        vulnerabilities=[v.value for v in person.vulnerabilities],
        arrived_on=person.arrived_on,
        notes=person.notes,
        version=person.version,
        **{kind: identifiers.get(kind, "") for kind in services.IdentifierKind},
    )


def _differences(form, current: Person) -> list[tuple[str, str, str]]:
    """(label, saved value, your value) for every field that differs."""
    db.session.refresh(current)
    saved = _form_values(current)
    rows = []
    for name in (
        "full_name", "aliases", "sex", "date_of_birth", "nationality", "claimed_ethnicity",
        "languages", "needs_interpreter", "legal_category", "vulnerabilities", "arrived_on",
        "notes", *[kind.value for kind in services.IdentifierKind],
    ):  # fmt: skip
        field = getattr(form, name)
        mine, theirs = field.data, getattr(saved, name)
        if (mine or None) != (theirs or None):
            rows.append((str(field.label.text), _shown(theirs), _shown(mine)))
    return rows


def _shown(value) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    if value in (None, ""):
        return "—"
    return str(value)


@bp.route("/<int:person_id>/custody", methods=["POST"])
@permission_required("custody.record")
def record_custody(person_id: int):
    """Record a custody step (a supervisor may reopen a closed record)."""
    person = get_person_or_404(person_id)
    form = CustodyForm(placements=active_placements())
    if form.validate_on_submit():
        if form.reopen.data and not current_user.can("custody.reopen"):
            deny("custody.reopen", person_id=person.id)
        try:
            event = services.record_custody_change(
                person,
                services.CustodyData(
                    status=form.status.data,
                    placement_id=form.placement_id.data or None,
                    effective_on=form.effective_on.data,
                    reason=form.reason.data,
                ),
                actor=current_user,
                reopen=form.reopen.data,
            )
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("The custody change has been recorded."), "success")
            if services.placement_is_over_capacity(event.placement):
                flash(_("%(place)s is now over capacity.", place=event.placement.name), "warning")
    else:
        flash_form_errors(form)
    return redirect(url_for("cases.detail", person_id=person.id, _anchor="custody"))


@bp.route("/<int:person_id>/reviews", methods=["POST"])
@permission_required("detention.review")
def record_review(person_id: int):
    """Record a periodic review of someone's detention."""
    person = get_person_or_404(person_id)
    form = DetentionReviewForm()
    if form.validate_on_submit():
        try:
            services.record_detention_review(
                person, form.reviewed_on.data, form.outcome.data, form.note.data, actor=current_user
            )
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("The detention review has been recorded."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("cases.detail", person_id=person.id, _anchor="detention"))


# --- reference data (admin) --------------------------------------------------------


@bp.route("/reference/placements", methods=["GET", "POST"])
@permission_required("reference.manage")
def placements():
    """Blocks, rooms and housing sites, with occupancy against capacity."""
    form = PlacementForm()
    if form.validate_on_submit():
        try:
            services.save_placement(
                None,
                kind=form.kind.data,
                name=form.name.data,
                capacity=form.capacity.data,
                is_active=form.is_active.data,
            )
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("The placement has been saved."), "success")
            return redirect(url_for("cases.placements"))
    rows = db.session.scalars(select(Placement).order_by(Placement.kind, Placement.name)).all()
    return render_template(
        "cases/placements.html", form=form, placements=rows, occupancy=services.occupancy()
    )


@bp.route("/reference/placements/<int:placement_id>", methods=["GET", "POST"])
@permission_required("reference.manage")
def edit_placement(placement_id: int):
    """Rename a placement, change its capacity, or take it out of use."""
    placement = db.session.get(Placement, placement_id) or abort(404)
    form = PlacementForm(obj=placement)
    if form.validate_on_submit():
        try:
            services.save_placement(
                placement,
                kind=form.kind.data,
                name=form.name.data,
                capacity=form.capacity.data,
                is_active=form.is_active.data,
            )
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("The placement has been saved."), "success")
            return redirect(url_for("cases.placements"))
    return render_template("cases/placement_edit.html", form=form, placement=placement)


@bp.route("/reference/ethnicities", methods=["GET", "POST"])
@permission_required("reference.manage")
def ethnicities():
    """The names suggested while typing a claimed ethnicity."""
    form = EthnicityForm()
    if form.validate_on_submit():
        try:
            services.add_ethnicity_suggestion(form.name.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("The suggestion has been added."), "success")
            return redirect(url_for("cases.ethnicities"))
    rows = db.session.scalars(select(EthnicitySuggestion).order_by(EthnicitySuggestion.name)).all()
    return render_template(
        "cases/ethnicities.html", form=form, suggestions=rows, action=ActionForm()
    )


@bp.route("/reference/ethnicities/<int:suggestion_id>/delete", methods=["POST"])
@permission_required("reference.manage")
def delete_ethnicity(suggestion_id: int):
    """Stop suggesting a name (what people stated is kept as stated)."""
    suggestion = db.session.get(EthnicitySuggestion, suggestion_id) or abort(404)
    if ActionForm().validate_on_submit():
        services.remove_ethnicity_suggestion(suggestion)
        db.session.commit()
        flash(_("The suggestion has been removed."), "success")
    return redirect(url_for("cases.ethnicities"))


# --- labels for templates ------------------------------------------------------------


@bp.app_template_global()
def nationality_label(code: str | None) -> str:
    """A nationality's name in the interface language."""
    from rudenim.cases.nationalities import label

    return label(code)


@bp.app_template_global()
def custody_status_label(status) -> str:
    """A custody status's name in the interface language."""
    return services.custody_status_label(status)


@bp.app_template_global()
def identifier_label(kind) -> str:
    """An identifier kind's name in the interface language."""
    return services.identifier_label(kind)


#: The labels of the fixed choices, translated once per language (a list of
#: people shows two or three on each of its 50 rows).
_CHOICE_LABELS = {
    kind: labels_per_locale(lambda choices=choices: dict(choices()))
    for kind, choices in (
        ("sex", sex_choices),
        ("legal_category", legal_category_choices),
        ("vulnerability", vulnerability_choices),
    )
}


@bp.app_template_global()
def choice_label(kind: str, value) -> str:
    """The label of a fixed choice (sex, legal category, vulnerability)."""
    value = getattr(value, "value", value)
    return str(_CHOICE_LABELS[kind]().get(value, value))


@bp.app_template_global()
def review_outcome_label(outcome: str) -> str:
    """A detention review outcome in the interface language."""
    return services.review_outcome_label(outcome)


# --- verification ----------------------------------------------------------------------


@bp.route("/<int:person_id>/verification/<agency>", methods=["POST"])
@permission_required("verification.update")
def record_verification(person_id: int, agency: str):
    """Record a step of the person's IOM or UNHCR verification."""
    person = get_person_or_404(person_id)
    form = VerificationStepForm()
    if form.validate_on_submit():
        try:
            verification.record_verification_step(
                person,
                agency,
                verification.StepData(
                    to_status=form.to_status.data,
                    occurred_on=form.occurred_on.data,
                    reference=form.reference.data,
                    note=form.note.data or "",
                ),
                actor=current_user,
            )
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("The verification step has been recorded."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("cases.detail", person_id=person.id, _anchor="verification"))


def board_filter_from(form: BoardFilterForm) -> verification.BoardFilter:
    """The board's (and its exports') criteria from a validated filter form."""
    return verification.BoardFilter(
        agency=verification.parse_agency(form.agency.data or "unhcr"),
        people=_filter_from(form),
        statuses=[VerificationStatus(s) for s in form.vstatus.data or []],
        stalled_only=form.stalled.data,
    )


def board_form_from_request() -> tuple[BoardFilterForm, verification.BoardFilter | None]:
    """The board's filter form from the URL, and the filter if the input is valid."""
    form = BoardFilterForm(request.args, placements=active_placements())
    if not form.validate():
        return form, None
    return form, board_filter_from(form)


@bp.route("/verification")
@permission_required("verification.view")
def board():
    """Each agency's verification board: counts, people, stalled tracks."""
    form, criteria = board_form_from_request()
    if criteria is None:
        flash(_("Some filters were not valid and were not applied."), "warning")
        criteria = verification.BoardFilter(
            agency=Agency(form.agency.data)
            if form.agency.data in ("iom", "unhcr")
            else Agency.UNHCR
        )
    query, _track, _status = verification.board_query(criteria)
    per_page = request.args.get("per_page", 50, type=int)
    per_page = per_page if per_page in PAGE_SIZES else 50
    counts = verification.board_counts(criteria)
    # The counts per status already hold the number of people listed (except
    # for "stalled only"): no second pass over them to count the pages.
    total = None
    if not criteria.stalled_only:
        total = sum(counts[status] for status in criteria.statuses or VerificationStatus)
    page = db.paginate(
        query.options(*services.list_options()),
        page=page_number(),
        per_page=per_page,
        error_out=False,
        count=total is None,
    )
    if total is not None:
        page.total = total
    rows = list(zip(page.items, _tracks_for(page, criteria.agency), strict=True))
    args = {
        key: request.args.getlist(key)
        for key in request.args
        if key != "page" and any(request.args.getlist(key))
    }
    return render_template(
        "cases/board.html",
        form=form,
        criteria=criteria,
        page=page,
        rows=rows,
        counts=counts,
        args=args,
        bulk_form=BulkStepForm(agency=criteria.agency.value, formdata=None),
        stalled_days=verification.stalled_days(),
        is_stalled=verification.is_stalled,
    )


def _tracks_for(page, agency: Agency):
    """The track of each row on a board page (paginate returns the first column)."""
    from rudenim.cases.models import VerificationTrack

    ids = [person.id for person in page.items]
    if not ids:
        return []
    tracks = {
        track.person_id: track
        for track in db.session.scalars(
            select(VerificationTrack).where(
                VerificationTrack.person_id.in_(ids), VerificationTrack.agency == agency
            )
        )
    }
    return [tracks.get(person_id) for person_id in ids]


@bp.route("/verification/bulk", methods=["POST"])
@permission_required("verification.update")
def bulk_verification():
    """Apply one step to several people after an agency's visit."""
    form = BulkStepForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("cases.board", agency=form.agency.data or "unhcr"))
    try:
        outcome = verification.bulk_step(
            form.person_ids.data,
            form.agency.data,
            verification.StepData(
                to_status=form.to_status.data,
                occurred_on=form.occurred_on.data,
                note=form.note.data or "",
            ),
            actor=current_user,
            all_or_nothing=form.all_or_nothing.data,
        )
    except verification.BulkRefused as exc:
        db.session.rollback()
        flash(str(exc), "error")
        outcome = exc.outcome
        outcome.updated = []
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("cases.board", agency=form.agency.data or "unhcr"))
    else:
        db.session.commit()
        if outcome.updated:
            count = len(outcome.updated)
            flash(ngettext("%(num)d person updated.", "%(num)d people updated.", count), "success")
        if outcome.refused:
            count = len(outcome.refused)
            flash(
                ngettext(
                    "%(num)d person was refused; see why below.",
                    "%(num)d people were refused; see why below.",
                    count,
                ),
                "warning",
            )
    return render_template(
        "cases/bulk_result.html",
        outcome=outcome,
        agency=form.agency.data,
        to_status=form.to_status.data,
    )


@bp.app_template_global()
def verification_status_label(status) -> str:
    """A verification status in the interface language."""
    return verification.status_label(status)


@bp.app_template_global()
def agency_label(agency) -> str:
    return verification.agency_label(agency)
