"""Due process for house-rule violations (UN Nelson Mandela Rules 36–46).

A charge cites one rule of the catalogue and names one person. It is decided
only after the person was told of it in a language they understand and their
statement (or refusal) is recorded, by a supervisor who did not report it,
with written reasons and at most one sanction from the rule's allowed list,
bounded in time. An appeal is decided by yet another supervisor.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import Select, bindparam, func, or_, select, union_all
from sqlalchemy.orm import joinedload

from rudenim.audit.capture import lock_chain
from rudenim.cases.models import (
    CustodyEvent,
    CustodyStatus,
    Person,
    Placement,
    PlacementKind,
    Vulnerability,
)
from rudenim.cases.services import CustodyData, record_custody_change
from rudenim.clock import (
    local_days_span,
    local_now,
    local_to_utc,
    local_today,
    to_local,
    utcnow,
)
from rudenim.conduct.models import (
    HouseRule,
    RuleSanction,
    RulesExplanation,
    Sanction,
    Severity,
    Violation,
    ViolationAmendment,
    ViolationStatus,
)
from rudenim.errors import DomainError, IllegalTransition, NotFound, PermissionDenied
from rudenim.extensions import built_once, db
from rudenim.i18n import labels_per_locale

MAX_SANCTION_DAYS = 365


def _clean(text: str | None) -> str:
    return (text or "").strip()


@labels_per_locale
def _sanction_labels() -> dict:
    return {
        Sanction.VERBAL_WARNING: _("Verbal warning"),
        Sanction.WRITTEN_WARNING: _("Written warning"),
        Sanction.PRIVILEGE_RESTRICTION: _("Restriction of a privilege"),
        Sanction.TRANSFER_TO_DETENTION: _("Transfer from community housing to the centre"),
        Sanction.POLICE_REFERRAL: _("Referral to the police"),
    }


def sanction_label(sanction) -> str:
    """A sanction's name in the interface language."""
    if not sanction:
        return "—"
    return _sanction_labels()[sanction]


@labels_per_locale
def _severity_labels() -> dict:
    return {
        Severity.MINOR: pgettext("severity", "Minor"),
        Severity.MODERATE: _("Moderate"),
        Severity.SERIOUS: _("Serious"),
    }


def severity_label(severity) -> str:
    return _severity_labels()[severity]


@labels_per_locale
def _status_labels() -> dict:
    return {
        ViolationStatus.REPORTED: _("Reported"),
        ViolationStatus.UNDER_REVIEW: _("Under review"),
        ViolationStatus.UPHELD: _("Upheld"),
        ViolationStatus.DISMISSED: _("Dismissed"),
        ViolationStatus.APPEALED: _("Appealed"),
        ViolationStatus.APPEAL_UPHELD: _("Appeal: decision upheld"),
        ViolationStatus.APPEAL_OVERTURNED: _("Appeal: decision overturned"),
    }


def status_label(status) -> str:
    return _status_labels()[status]


# --- the catalogue -------------------------------------------------------------------


def save_rule(
    rule: HouseRule | None,
    *,
    code: str,
    title_id: str,
    title_en: str,
    description_id: str = "",
    description_en: str = "",
    is_criminal: bool = False,
    is_active: bool = True,
    sanctions: dict[str, int | None],
) -> HouseRule:
    """Create or change a house rule and the sanctions it allows."""
    code = _clean(code).upper()
    if not code or len(code) > 16:
        raise DomainError(_("Give the rule a code of up to 16 characters."), field="code")
    if not _clean(title_id) or not _clean(title_en):
        raise DomainError(
            _("Give the rule a title in Indonesian and in English."), field="title_id"
        )
    other = db.session.scalar(select(HouseRule).where(HouseRule.code == code))
    if other is not None and other is not rule:
        raise DomainError(_("A rule with the code %(code)s exists.", code=code), field="code")
    allowed: dict[Sanction, int | None] = {}
    for name, days in (sanctions or {}).items():
        try:
            sanction = Sanction(name)
        except ValueError:
            raise DomainError(
                _("%(name)s is not a sanction this system knows.", name=name), field="sanctions"
            ) from None
        if sanction.has_duration:
            if not days or not 1 <= days <= MAX_SANCTION_DAYS:
                raise DomainError(
                    _(
                        "%(sanction)s needs a longest duration between 1 and %(max)d days.",
                        sanction=sanction_label(sanction),
                        max=MAX_SANCTION_DAYS,
                    ),
                    field="sanctions",
                )
            allowed[sanction] = days
        else:
            allowed[sanction] = None
    if not allowed:
        raise DomainError(_("Allow at least one sanction."), field="sanctions")
    if Sanction.POLICE_REFERRAL in allowed and not is_criminal:
        raise DomainError(
            _("Referral to the police is only for rules that are criminal matters."),
            field="sanctions",
        )
    lock_chain(db.session)
    if rule is None:
        rule = HouseRule(code=code)
        db.session.add(rule)
    rule.code = code
    rule.title_id, rule.title_en = _clean(title_id), _clean(title_en)
    rule.description_id, rule.description_en = _clean(description_id), _clean(description_en)
    rule.is_criminal, rule.is_active = bool(is_criminal), bool(is_active)
    current = {row.sanction: row for row in rule.sanctions}
    for sanction, row in current.items():
        if sanction not in allowed:
            rule.sanctions.remove(row)
        elif row.max_days != allowed[sanction]:
            row.max_days = allowed[sanction]
    for sanction, days in allowed.items():
        if sanction not in current:
            rule.sanctions.append(RuleSanction(sanction=sanction, max_days=days))
    db.session.flush()
    return rule


#: The starting catalogue: (code, title id, title en, description id, description en,
#: criminal?, {sanction: longest days})
CATALOGUE = [
    (
        "TT-01",
        "Meninggalkan lokasi penampungan tanpa izin",
        "Leaving the housing site without permission",
        "Keluar dari lokasi penampungan komunitas tanpa izin atau tidak kembali pada waktunya.",
        "Leaving the community housing site without permission or not returning in time.",
        False,
        {"verbal_warning": None, "written_warning": None, "privilege_restriction": 14,
         "transfer_to_detention": 30},
    ),
    (
        "TT-02",
        "Melanggar jam malam",
        "Curfew breach",
        "Berada di luar lokasi penampungan setelah jam malam yang berlaku.",
        "Being outside the housing site after the curfew in force.",
        False,
        {"verbal_warning": None, "written_warning": None, "privilege_restriction": 7},
    ),
    (
        "TT-03",
        "Perkelahian",
        "Fighting",
        "Terlibat perkelahian fisik dengan penghuni lain atau orang lain.",
        "Taking part in a physical fight with another resident or anyone else.",
        True,
        {"verbal_warning": None, "written_warning": None, "privilege_restriction": 14,
         "transfer_to_detention": 30, "police_referral": None},
    ),
    (
        "TT-04",
        "Merusak barang",
        "Damaging property",
        "Merusak atau menghancurkan barang milik penampungan, Rudenim atau orang lain.",
        "Damaging or destroying property of the housing site, the centre or others.",
        True,
        {"verbal_warning": None, "written_warning": None, "privilege_restriction": 14,
         "police_referral": None},
    ),
    (
        "TT-05",
        "Memiliki barang terlarang",
        "Possessing prohibited items",
        "Menyimpan senjata, narkotika, minuman keras atau barang lain yang dilarang.",
        "Keeping weapons, narcotics, alcohol or other prohibited items.",
        True,
        {"written_warning": None, "privilege_restriction": 14, "transfer_to_detention": 30,
         "police_referral": None},
    ),
    (
        "TT-06",
        "Mengancam petugas atau penghuni",
        "Threatening staff or residents",
        "Mengancam keselamatan petugas, penghuni lain atau warga sekitar.",
        "Threatening the safety of staff, other residents or neighbours.",
        True,
        {"verbal_warning": None, "written_warning": None, "privilege_restriction": 14,
         "transfer_to_detention": 30, "police_referral": None},
    ),
]  # fmt: skip


def load_catalogue() -> dict[str, int]:
    """Add the starting house rules that are missing (by code)."""
    added = 0
    for code, title_id, title_en, desc_id, desc_en, criminal, sanctions in CATALOGUE:
        if db.session.scalar(select(HouseRule.id).where(HouseRule.code == code)) is None:
            save_rule(
                None,
                code=code,
                title_id=title_id,
                title_en=title_en,
                description_id=desc_id,
                description_en=desc_en,
                is_criminal=criminal,
                sanctions=sanctions,
            )
            added += 1
    return {"house rules": added}


def active_rules() -> list[HouseRule]:
    return list(
        db.session.scalars(
            select(HouseRule).where(HouseRule.is_active.is_(True)).order_by(HouseRule.code)
        )
    )


# --- explaining the rules ---------------------------------------------------------------


def record_rules_explanation(
    person: Person, explained_on: date | None, language: str, interpreter: str, *, actor, today=None
) -> RulesExplanation:
    """Record that the house rules were explained to the person, and in which language."""
    today = today or local_today()
    if explained_on is None or explained_on > today:
        raise DomainError(_("The date is missing or in the future."), field="explained_on")
    if explained_on < person.arrived_on:
        raise DomainError(_("The date is before the person's arrival."), field="explained_on")
    if not _clean(language):
        raise DomainError(_("Name the language the rules were explained in."), field="language")
    lock_chain(db.session)
    explanation = RulesExplanation(
        person_id=person.id,
        explained_on=explained_on,
        language=_clean(language)[:80],
        interpreter=_clean(interpreter)[:120],
        explained_by_id=actor.id,
    )
    db.session.add(explanation)
    db.session.flush()
    return explanation


def explanations_of(person: Person) -> list[RulesExplanation]:
    return list(db.session.scalars(_explanations_statement(), {"person_id": person.id}))


@built_once
def _explanations_statement():
    return (
        select(RulesExplanation)
        .where(RulesExplanation.person_id == bindparam("person_id"))
        .options(joinedload(RulesExplanation.explained_by))
        .order_by(RulesExplanation.explained_on.desc(), RulesExplanation.id.desc())
    )


# --- reporting and review -----------------------------------------------------------------


@dataclass
class ReportData:
    """A breach as the reporting officer describes it."""

    rule_id: int | None
    occurred_at: datetime | None  #: local time, as typed
    location: str
    description: str
    witnesses: str = ""
    severity: str = "minor"


def get_violation(violation_id: int) -> Violation:
    violation = db.session.get(Violation, violation_id)
    if violation is None:
        raise NotFound(_("There is no such violation."))
    return violation


def report_violation(
    person: Person, data: ReportData, *, actor, now: datetime | None = None
) -> Violation:
    """Enter a breach of one house rule by one person in the log as reported."""
    now = now or utcnow()
    rule = db.session.get(HouseRule, data.rule_id) if data.rule_id else None
    if rule is None or not rule.is_active:
        raise DomainError(_("Choose a house rule from the catalogue."), field="rule_id")
    if data.occurred_at is None:
        raise DomainError(_("Enter when it happened."), field="occurred_at")
    occurred = local_to_utc(data.occurred_at)
    if occurred > now:
        raise DomainError(_("The time is in the future."), field="occurred_at")
    if to_local(occurred).date() < person.arrived_on:
        raise DomainError(_("The time is before the person's arrival."), field="occurred_at")
    if not _clean(data.location):
        raise DomainError(_("Say where it happened."), field="location")
    if not _clean(data.description):
        raise DomainError(_("Describe what happened."), field="description")
    try:
        severity = Severity(data.severity)
    except ValueError:
        raise DomainError(_("Choose a severity."), field="severity") from None
    lock_chain(db.session)
    violation = Violation(
        person=person,
        rule=rule,
        occurred_at=occurred,
        location=_clean(data.location)[:200],
        description=_clean(data.description),
        witnesses=_clean(data.witnesses),
        severity=severity,
        status=ViolationStatus.REPORTED,
        reported_by_id=actor.id,
        reported_at=now,
    )
    db.session.add(violation)
    db.session.flush()
    return violation


def _open_for_review(violation: Violation) -> None:
    if violation.is_decided:
        raise IllegalTransition(
            _("This violation has been decided; it can only be amended, with a reason.")
        )


def notify_charge(
    violation: Violation,
    notified_on: date | None,
    language: str,
    interpreter: str,
    *,
    no_interpreter_needed: bool,
    actor,
    today: date | None = None,
) -> Violation:
    """Record that the person was told of the charge, in a language they understand."""
    today = today or local_today()
    _open_for_review(violation)
    if violation.charge_notified_on is not None:
        raise IllegalTransition(
            _("The charge was already made known on %(date)s.", date=violation.charge_notified_on)
        )
    if notified_on is None or notified_on > today:
        raise DomainError(_("The date is missing or in the future."), field="notified_on")
    if notified_on < to_local(violation.occurred_at).date():
        raise DomainError(_("The date is before the incident."), field="notified_on")
    if not _clean(language):
        raise DomainError(_("Name the language the charge was explained in."), field="language")
    interpreter = _clean(interpreter)
    if bool(interpreter) == bool(no_interpreter_needed):
        raise DomainError(
            _("Give the interpreter's name, or tick that none was needed (not both)."),
            field="interpreter",
        )
    lock_chain(db.session)
    violation.charge_notified_on = notified_on
    violation.charge_language = _clean(language)[:80]
    violation.charge_interpreter = interpreter[:120]
    violation.charge_notified_by_id = actor.id
    violation.charge_notified_at = utcnow()
    violation.status = ViolationStatus.UNDER_REVIEW
    db.session.flush()
    return violation


def record_statement(violation: Violation, statement: str, *, declined: bool, actor) -> Violation:
    """Record the person's own account, or that they declined to give one."""
    _open_for_review(violation)
    if violation.charge_notified_on is None:
        raise IllegalTransition(
            _("Tell the person of the charge first; then record their statement.")
        )
    if violation.statement is not None or violation.statement_declined:
        raise IllegalTransition(_("The person's statement has already been recorded."))
    statement = _clean(statement)
    if bool(statement) == bool(declined):
        raise DomainError(
            _("Write down the statement, or tick that the person declined (not both)."),
            field="statement",
        )
    lock_chain(db.session)
    violation.statement = statement or None
    violation.statement_declined = bool(declined)
    violation.statement_recorded_by_id = actor.id
    violation.statement_recorded_at = utcnow()
    violation.status = ViolationStatus.UNDER_REVIEW
    db.session.flush()
    return violation


def record_evidence(violation: Violation, evidence: str, *, actor) -> Violation:
    """Record the evidence considered (reports, witnesses heard, footage …)."""
    _open_for_review(violation)
    if violation.evidence is not None:
        raise IllegalTransition(_("The evidence has already been recorded."))
    if not _clean(evidence):
        raise DomainError(_("Describe the evidence considered."), field="evidence")
    lock_chain(db.session)
    violation.evidence = _clean(evidence)
    violation.evidence_recorded_by_id = actor.id
    violation.evidence_recorded_at = utcnow()
    violation.status = ViolationStatus.UNDER_REVIEW
    db.session.flush()
    return violation


# --- deciding -----------------------------------------------------------------------------


@dataclass
class DecisionData:
    outcome: str
    reasons: str
    alternatives_considered: str = ""
    sanction: str | None = None
    privilege: str = ""
    ends_on: date | None = None
    appeal_rights_told_on: date | None = None
    #: For a transfer to detention: the block or room in the centre.
    placement_id: int | None = None


#: Vulnerabilities for which detention as a sanction is refused.
NO_DETENTION_SANCTION = frozenset(
    {Vulnerability.MINOR, Vulnerability.UNACCOMPANIED_MINOR, Vulnerability.PREGNANT}
)


def missing_steps(violation: Violation) -> list[str]:
    """The review steps still missing before a decision, in words."""
    missing = []
    if violation.charge_notified_on is None:
        missing.append(_("the charge has not been made known to the person"))
    if violation.statement is None and not violation.statement_declined:
        missing.append(_("the person's statement (or refusal) has not been recorded"))
    return missing


def can_decide(violation: Violation, user) -> bool:
    """Object rule: the reporter never decides their own report."""
    return violation.reported_by_id != user.id


def decide_violation(
    violation: Violation, data: DecisionData, *, actor, today: date | None = None
) -> Violation:
    """Uphold or dismiss, with reasons and, when upheld, one bounded sanction."""
    today = today or local_today()
    _open_for_review(violation)
    if not can_decide(violation, actor):
        raise PermissionDenied(_("You reported this violation. Another supervisor must decide it."))
    missing = missing_steps(violation)
    if missing:
        raise IllegalTransition(
            _("It cannot be decided yet: %(missing)s.", missing="; ".join(missing))
        )
    if data.outcome not in (ViolationStatus.UPHELD, ViolationStatus.DISMISSED):
        raise DomainError(_("Choose upheld or dismissed."), field="outcome")
    reasons = _clean(data.reasons)
    if len(reasons) < 10:
        raise DomainError(_("Write the reasons for the decision."), field="reasons")
    alternatives = _clean(data.alternatives_considered)
    outcome = ViolationStatus(data.outcome)
    sanction = None
    if outcome is ViolationStatus.UPHELD:
        if not alternatives:
            raise DomainError(
                _("Write down the alternatives considered before a sanction."),
                field="alternatives_considered",
            )
        sanction = _checked_sanction(violation, data, today)
    lock_chain(db.session)
    violation.decided_by_id = actor.id
    violation.decided_at = utcnow()
    violation.decided_on = today
    violation.reasons = reasons
    violation.alternatives_considered = alternatives or None
    violation.status = outcome
    if sanction is not None:
        violation.sanction = sanction
        violation.sanction_privilege = _clean(data.privilege)[:200] or None
        violation.sanction_starts_on = today
        violation.sanction_ends_on = data.ends_on if sanction.has_duration else today
        violation.appeal_rights_told_on = data.appeal_rights_told_on
        if sanction is Sanction.TRANSFER_TO_DETENTION:
            event = record_custody_change(
                violation.person,
                CustodyData(
                    status=CustodyStatus.DETAINED.value,
                    placement_id=data.placement_id,
                    effective_on=today,
                    reason=_(
                        "Transfer to the centre as the sanction for violation #%(id)d "
                        "(%(rule)s); review by %(date)s.",
                        id=violation.id,
                        rule=violation.rule.code,
                        date=data.ends_on.isoformat(),
                    ),
                ),
                actor=actor,
                today=today,
            )
            violation.transfer_event_id = event.id
    db.session.flush()
    return violation


def _checked_sanction(violation: Violation, data: DecisionData, today: date) -> Sanction:
    try:
        sanction = Sanction(data.sanction or "")
    except ValueError:
        raise DomainError(
            _("Choose one sanction from the rule's list."), field="sanction"
        ) from None
    allowed = violation.rule.allowed(sanction)
    if allowed is None:
        raise DomainError(
            _(
                "Rule %(code)s does not allow %(sanction)s.",
                code=violation.rule.code,
                sanction=sanction_label(sanction),
            ),
            field="sanction",
        )
    if sanction.has_duration:
        if data.ends_on is None:
            raise DomainError(_("Give the end (or review) date of the sanction."), field="ends_on")
        if data.ends_on <= today:
            raise DomainError(_("The end date must be after today."), field="ends_on")
        longest = today + timedelta(days=allowed.max_days)
        if data.ends_on > longest:
            raise DomainError(
                _(
                    "Rule %(code)s allows %(sanction)s for at most %(days)d days (until %(date)s).",
                    code=violation.rule.code,
                    sanction=sanction_label(sanction),
                    days=allowed.max_days,
                    date=longest,
                ),
                field="ends_on",
            )
    if sanction is Sanction.PRIVILEGE_RESTRICTION and not _clean(data.privilege):
        raise DomainError(_("Name the privilege that is restricted."), field="privilege")
    if sanction is Sanction.TRANSFER_TO_DETENTION:
        person = violation.person
        if person.custody_status is not CustodyStatus.COMMUNITY_HOUSING:
            raise DomainError(
                _("A transfer to the centre applies only to someone in community housing."),
                field="sanction",
            )
        if set(person.vulnerabilities) & NO_DETENTION_SANCTION:
            raise DomainError(
                _("Detention is not used as a sanction for a child or a pregnant woman."),
                field="sanction",
            )
        placement = db.session.get(Placement, data.placement_id) if data.placement_id else None
        if placement is None or placement.kind is not PlacementKind.CENTRE:
            raise DomainError(
                _("Choose the block or room in the centre for the transfer."),
                field="placement_id",
            )
    if data.appeal_rights_told_on is None:
        raise DomainError(
            _("Record the date the person was told of the right to appeal."),
            field="appeal_rights_told_on",
        )
    if data.appeal_rights_told_on < to_local(violation.occurred_at).date():
        raise DomainError(_("That date is before the incident."), field="appeal_rights_told_on")
    if data.appeal_rights_told_on > today:
        raise DomainError(_("That date is in the future."), field="appeal_rights_told_on")
    return sanction


# --- appeals ---------------------------------------------------------------------------------


def appeal_deadline(violation: Violation) -> date | None:
    if violation.decided_on is None:
        return None
    return violation.decided_on + timedelta(days=current_app.config["APPEAL_DAYS"])


def record_appeal(
    violation: Violation, appealed_on: date | None, grounds: str, *, actor, today=None
) -> Violation:
    """Record that the person appealed an upheld decision, within the time allowed."""
    today = today or local_today()
    if violation.status is not ViolationStatus.UPHELD:
        raise IllegalTransition(_("Only an upheld decision can be appealed, once."))
    if appealed_on is None or appealed_on > today:
        raise DomainError(_("The date is missing or in the future."), field="appealed_on")
    if appealed_on < violation.decided_on:
        raise DomainError(_("The appeal date is before the decision."), field="appealed_on")
    deadline = appeal_deadline(violation)
    if appealed_on > deadline:
        raise DomainError(
            _(
                "The appeal came after the deadline (%(date)s, %(days)d days after the decision).",
                date=deadline,
                days=current_app.config["APPEAL_DAYS"],
            ),
            field="appealed_on",
        )
    if not _clean(grounds):
        raise DomainError(_("Write down the grounds of the appeal."), field="grounds")
    lock_chain(db.session)
    violation.appealed_on = appealed_on
    violation.appeal_grounds = _clean(grounds)
    violation.appeal_recorded_by_id = actor.id
    violation.status = ViolationStatus.APPEALED
    db.session.flush()
    return violation


def decide_appeal(
    violation: Violation, outcome: str, reasons: str, *, actor, today=None
) -> str | None:
    """A supervisor other than the decider decides the appeal.

    Returns a warning for the user when an overturned transfer could not be
    undone automatically.
    """
    today = today or local_today()
    if violation.status is not ViolationStatus.APPEALED:
        raise IllegalTransition(_("There is no pending appeal."))
    if violation.decided_by_id == actor.id:
        raise PermissionDenied(
            _("You decided this violation. Another supervisor must decide the appeal.")
        )
    if violation.reported_by_id == actor.id:
        raise PermissionDenied(_("You reported this violation. Another supervisor must decide it."))
    if outcome not in (ViolationStatus.APPEAL_UPHELD, ViolationStatus.APPEAL_OVERTURNED):
        raise DomainError(
            _("Choose whether the decision is upheld or overturned."), field="outcome"
        )
    if len(_clean(reasons)) < 10:
        raise DomainError(_("Write the reasons for the appeal decision."), field="reasons")
    lock_chain(db.session)
    violation.status = ViolationStatus(outcome)
    violation.appeal_decided_by_id = actor.id
    violation.appeal_decided_at = utcnow()
    violation.appeal_reasons = _clean(reasons)
    warning = None
    if (
        violation.status is ViolationStatus.APPEAL_OVERTURNED
        and violation.sanction is Sanction.TRANSFER_TO_DETENTION
        and violation.transfer_event_id
    ):
        warning = _restore_custody(violation, actor, today)
    db.session.flush()
    return warning


def _restore_custody(violation: Violation, actor, today: date) -> str | None:
    person = violation.person
    transfer = violation.transfer_event
    if person.custody_status is not CustodyStatus.DETAINED:
        return None  # custody has moved on since; nothing to undo
    before = db.session.scalar(
        select(CustodyEvent)
        .where(
            CustodyEvent.person_id == person.id,
            or_(
                CustodyEvent.effective_on < transfer.effective_on,
                (CustodyEvent.effective_on == transfer.effective_on)
                & (CustodyEvent.id < transfer.id),
            ),
        )
        .order_by(CustodyEvent.effective_on.desc(), CustodyEvent.id.desc())
        .limit(1)
    )
    if before is None:
        return None
    try:
        event = record_custody_change(
            person,
            CustodyData(
                status=before.status.value,
                placement_id=before.placement_id,
                effective_on=today,
                reason=_(
                    "Transfer overturned on appeal (violation #%(id)d): earlier custody restored.",
                    id=violation.id,
                ),
            ),
            actor=actor,
            today=today,
        )
    except DomainError as exc:
        return _(
            "The decision is overturned, but the earlier custody could not be restored "
            "automatically (%(why)s). Record the move on the person's page.",
            why=str(exc),
        )
    violation.restore_event_id = event.id
    return None


# --- amendments --------------------------------------------------------------------------------

#: Fields of a decided violation a supervisor may correct, with a reason.
AMENDABLE = (
    "location",
    "description",
    "witnesses",
    "evidence",
    "reasons",
    "alternatives_considered",
    "sanction_privilege",
    "sanction_ends_on",
)


def amend_violation(
    violation: Violation, field: str, value: str, reason: str, *, actor
) -> ViolationAmendment:
    """Correct one field of a decided violation; the old value and the reason are kept."""
    if not violation.is_decided:
        raise IllegalTransition(
            _("This violation is not decided yet; correct it through the review steps.")
        )
    if field not in AMENDABLE:
        raise DomainError(_("That field cannot be amended."), field="field")
    if not _clean(reason):
        raise DomainError(_("Give the reason for the amendment."), field="reason")
    old = getattr(violation, field)
    if field == "sanction_ends_on":
        try:
            new = date.fromisoformat(_clean(value))
        except ValueError:
            raise DomainError(_("Give the date as YYYY-MM-DD."), field="value") from None
        if violation.sanction is None or not violation.sanction.has_duration:
            raise DomainError(_("This violation has no sanction with an end date."), field="field")
        if old is not None and new > old:
            raise DomainError(
                _("A sanction can be shortened by amendment, never lengthened."), field="value"
            )
        if new < violation.sanction_starts_on:
            raise DomainError(_("The end date is before the sanction started."), field="value")
    else:
        new = _clean(value)
        if field in ("location", "description", "reasons") and not new:
            raise DomainError(_("This field cannot be empty."), field="value")
    if new == old:
        raise DomainError(_("The new value is the same as the old one."), field="value")
    lock_chain(db.session)
    amendment = ViolationAmendment(
        violation=violation,
        person_id=violation.person_id,
        field=field,
        old_value="" if old is None else str(old),
        new_value=str(new),
        reason=_clean(reason),
        amended_by_id=actor.id,
    )
    db.session.add(amendment)
    setattr(violation, field, new)
    db.session.flush()
    return amendment


# --- the log -------------------------------------------------------------------------------------


@dataclass
class LogFilter:
    statuses: list[str]
    date_from: date | None = None
    date_to: date | None = None
    rule_id: int | None = None
    severity: str | None = None
    placement_id: int | None = None
    person: str | None = None


def visible_to(query: Select, user) -> Select:
    """Officers see only what they reported; supervisors and viewers see all."""
    return query if sees_all_violations(user) else query.where(_reported_by(user.id))


def sees_all_violations(user) -> bool:
    """Whether this user sees every violation, not only those they reported."""
    return user.can("violation.view_all")


def _reported_by(user_id):
    return Violation.reported_by_id == user_id


def log_query(criteria: LogFilter, user) -> Select:
    """Violations matching the filters, newest first, as this user may see them."""
    query = select(Violation)
    if criteria.placement_id or criteria.person:
        # Only these filters read the person: without them the count of a large
        # log does not visit a person row per violation.
        query = query.join(Person, Person.id == Violation.person_id)
    if criteria.statuses:
        query = query.where(Violation.status.in_(criteria.statuses))
    begin, end = local_days_span(criteria.date_from, criteria.date_to)
    if begin:
        query = query.where(Violation.occurred_at >= begin)
    if end:
        query = query.where(Violation.occurred_at < end)
    if criteria.rule_id:
        query = query.where(Violation.rule_id == criteria.rule_id)
    if criteria.severity:
        query = query.where(Violation.severity == criteria.severity)
    if criteria.placement_id:
        query = query.where(Person.placement_id == criteria.placement_id)
    if criteria.person:
        text = criteria.person.strip()
        query = query.where(
            or_(
                Person.case_number == text.upper(),
                func.lower(Person.full_name).contains(text.lower(), autoescape=True),
            )
        )
    return visible_to(query, user).order_by(Violation.occurred_at.desc(), Violation.id.desc())


def log_export_query(query: Select) -> Select:
    """The log's own columns for the rows ``log_query`` selects (no other data)."""
    from rudenim.auth.models import User

    selected = query.with_only_columns(Violation.id).order_by(None).subquery()
    return (
        select(
            Violation.id,
            Violation.occurred_at,
            Person.case_number,
            Person.full_name,
            HouseRule.code.label("rule_code"),
            Violation.severity,
            Violation.status,
            Violation.location,
            User.username.label("reported_by"),
            Violation.decided_on,
            Violation.sanction,
            Violation.sanction_ends_on,
        )
        .join(Person, Person.id == Violation.person_id)
        .join(HouseRule, HouseRule.id == Violation.rule_id)
        .join(User, User.id == Violation.reported_by_id)
        .where(Violation.id.in_(select(selected.c.id)))
        .order_by(Violation.occurred_at.desc(), Violation.id.desc())
    )


def list_options():
    """Loader options for a list of violations: what its rows show, joined to
    them (one statement, whatever the length of the list; a page's count does
    not carry the joins)."""
    return (joinedload(Violation.person), joinedload(Violation.rule))


def review_queue(user, limit: int = 50) -> list[Violation]:
    """Violations awaiting review or decision, oldest first."""
    return list(db.session.scalars(review_queue_query(user, limit)))


def review_queue_query(user, limit: int) -> Select:
    """The review queue's statement.

    Each status's first ``limit`` come from its range of the index in report
    order (``ix_violation_status_reported``) and the queue is the first
    ``limit`` of those: a long backlog is not read whole and sorted.
    """
    firsts = [
        visible_to(select(Violation.id).where(Violation.status == status), user)
        .order_by(Violation.reported_at, Violation.id)
        .limit(limit)
        .subquery()
        for status in ViolationStatus
        if not status.is_decided  # reported or under review
    ]
    return (
        select(Violation)
        .where(Violation.id.in_(union_all(*(select(first.c.id) for first in firsts))))
        .options(*list_options())
        .order_by(Violation.reported_at, Violation.id)
        .limit(limit)
    )


def is_review_overdue(violation: Violation, now: datetime | None = None) -> bool:
    """Awaiting review for longer than REVIEW_DUE_DAYS."""
    if violation.is_decided:
        return False
    now = now or utcnow()
    return now - violation.reported_at > timedelta(days=current_app.config["REVIEW_DUE_DAYS"])


def status_counts(user) -> dict[ViolationStatus, int]:
    """How many violations stand at each status (as this user may see them)."""
    query = visible_to(select(Violation.status, func.count()).group_by(Violation.status), user)
    counts = dict.fromkeys(ViolationStatus, 0)
    for status, count in db.session.execute(query):
        counts[ViolationStatus(status)] = count
    return counts


def violations_of(person: Person, user) -> list[Violation]:
    """A person's violations, newest first, as this user may see them."""
    sees_all = sees_all_violations(user)
    values = {"person_id": person.id} if sees_all else {"person_id": person.id, "user_id": user.id}
    return list(db.session.scalars(_violations_of_statement(sees_all), values))


@built_once
def _violations_of_statement(sees_all: bool):
    query = (
        select(Violation)
        .where(Violation.person_id == bindparam("person_id"))
        .options(joinedload(Violation.rule))
        .order_by(Violation.occurred_at.desc())
    )
    # visible_to, with the user's id bound at each execution.
    return query if sees_all else query.where(_reported_by(bindparam("user_id")))


def active_sanctions(person_ids: list[int], today: date | None = None) -> dict[int, Violation]:
    """The running sanction of each of these people, if any."""
    today = today or local_today()
    if not person_ids:
        return {}
    # Found through the people (a page holds few, each with few violations) and
    # sifted here: a planner that judged the sanction dates more selective would
    # otherwise read every violation still running anywhere.
    rows = db.session.scalars(select(Violation).where(Violation.person_id.in_(person_ids)))
    running = (ViolationStatus.UPHELD, ViolationStatus.APPEALED, ViolationStatus.APPEAL_UPHELD)
    restricting = (Sanction.PRIVILEGE_RESTRICTION, Sanction.TRANSFER_TO_DETENTION)
    return {
        row.person_id: row
        for row in rows
        if row.status in running
        and row.sanction in restricting
        and row.sanction_starts_on <= today <= row.sanction_ends_on
    }


def local_occurred(violation: Violation) -> datetime:
    return to_local(violation.occurred_at)


def now_local_input() -> str:
    """The current local time as a datetime-local input value."""
    return local_now().strftime("%Y-%m-%dT%H:%M")
