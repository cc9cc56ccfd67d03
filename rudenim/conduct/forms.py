"""Forms of the violation process and the house-rule catalogue."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from rudenim.conduct.models import Sanction
from rudenim.forms import OptionalChoice, SelectField, shared_choices


def severity_choices():
    return [
        ("minor", lazy_pgettext("severity", "Minor")),
        ("moderate", _l("Moderate")),
        ("serious", _l("Serious")),
    ]


def sanction_choices():
    from rudenim.conduct.services import sanction_label

    return [(sanction.value, sanction_label(sanction)) for sanction in Sanction]


def status_choices():
    from rudenim.conduct.models import ViolationStatus
    from rudenim.conduct.services import status_label

    return [(status.value, status_label(status)) for status in ViolationStatus]


class ReportForm(FlaskForm):
    person = StringField(
        _l("Person (case number)"),
        validators=[DataRequired(), Length(max=24)],
        description=_l(
            "One person per report. An incident with several people is several reports."
        ),
    )
    rule_id = SelectField(_l("House rule breached"), coerce=int, validators=[DataRequired()])
    occurred_at = DateTimeLocalField(
        _l("When (local time)"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()]
    )
    location = StringField(_l("Where"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("What happened"), validators=[DataRequired(), Length(max=5000)])
    witnesses = TextAreaField(_l("Witnesses"), validators=[Optional(), Length(max=2000)])
    severity = SelectField(_l("Severity"), choices=severity_choices, validators=[DataRequired()])
    submit = SubmitField(_l("Report"))

    def __init__(self, *args, rules=(), language="id", **kwargs):
        super().__init__(*args, **kwargs)
        self.rule_id.choices = [(0, "—")] + [
            (rule.id, f"{rule.code} · {rule.title(language)}") for rule in rules
        ]


class NotifyForm(FlaskForm):
    notified_on = DateField(_l("Date the charge was made known"), validators=[DataRequired()])
    language = StringField(_l("Language used"), validators=[DataRequired(), Length(max=80)])
    interpreter = StringField(_l("Interpreter's name"), validators=[Optional(), Length(max=120)])
    no_interpreter_needed = BooleanField(_l("No interpreter needed"))
    submit = SubmitField(_l("Record that the charge was made known"))


class StatementForm(FlaskForm):
    statement = TextAreaField(
        _l("The person's statement"), validators=[Optional(), Length(max=10000)]
    )
    declined = BooleanField(_l("The person declined to give a statement"))
    submit = SubmitField(_l("Record statement"))


class EvidenceForm(FlaskForm):
    evidence = TextAreaField(
        _l("Evidence considered"), validators=[DataRequired(), Length(max=10000)]
    )
    submit = SubmitField(_l("Record evidence"))


class DecisionForm(FlaskForm):
    outcome = SelectField(
        _l("Decision"), choices=[("upheld", _l("Upheld")), ("dismissed", _l("Dismissed"))]
    )
    reasons = TextAreaField(_l("Reasons"), validators=[DataRequired(), Length(max=10000)])
    alternatives_considered = TextAreaField(
        _l("Alternatives considered"), validators=[Optional(), Length(max=5000)]
    )
    sanction = SelectField(_l("Sanction (when upheld)"), validators=[OptionalChoice()])
    privilege = StringField(_l("Privilege restricted"), validators=[Optional(), Length(max=200)])
    ends_on = DateField(_l("Sanction ends (or is reviewed) on"), validators=[Optional()])
    placement_id = SelectField(
        _l("Block or room (for a transfer)"), coerce=int, validators=[OptionalChoice()]
    )
    appeal_rights_told_on = DateField(
        _l("Date the person was told of the right to appeal"), validators=[Optional()]
    )
    submit = SubmitField(_l("Decide"))

    def __init__(self, *args, rule=None, placements=(), **kwargs):
        super().__init__(*args, **kwargs)
        from rudenim.conduct.services import sanction_label

        allowed = rule.sanctions if rule is not None else []
        self.sanction.choices = [("", "—")] + [
            (
                row.sanction.value,
                sanction_label(row.sanction) + (f" (≤ {row.max_days} d)" if row.max_days else ""),
            )
            for row in allowed
        ]
        self.placement_id.choices = [(0, "—")] + [(p.id, p.name) for p in placements]


class AppealForm(FlaskForm):
    appealed_on = DateField(_l("Date of the appeal"), validators=[DataRequired()])
    grounds = TextAreaField(
        _l("Grounds of the appeal"), validators=[DataRequired(), Length(max=10000)]
    )
    submit = SubmitField(_l("Record appeal"))


class AppealDecisionForm(FlaskForm):
    outcome = SelectField(
        _l("Appeal decision"),
        choices=[
            ("appeal_upheld", _l("The decision is upheld")),
            ("appeal_overturned", _l("The decision is overturned")),
        ],
    )
    reasons = TextAreaField(_l("Reasons"), validators=[DataRequired(), Length(max=10000)])
    submit = SubmitField(_l("Decide the appeal"))


class AmendmentForm(FlaskForm):
    field = SelectField(_l("Field"), validators=[DataRequired()])
    value = TextAreaField(_l("Corrected value"), validators=[DataRequired(), Length(max=10000)])
    reason = TextAreaField(
        _l("Reason for the amendment"), validators=[DataRequired(), Length(max=2000)]
    )
    submit = SubmitField(_l("Amend"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labels = {
            "location": _l("Where"),
            "description": _l("What happened"),
            "witnesses": _l("Witnesses"),
            "evidence": _l("Evidence considered"),
            "reasons": _l("Reasons"),
            "alternatives_considered": _l("Alternatives considered"),
            "sanction_privilege": _l("Privilege restricted"),
            "sanction_ends_on": _l("Sanction end date (shorten only, YYYY-MM-DD)"),
        }
        self.field.choices = list(labels.items())


class LogFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectMultipleField(_l("Status"), validators=[OptionalChoice()])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    rule_id = SelectField(_l("Rule"), coerce=int, validators=[OptionalChoice()])
    severity = SelectField(_l("Severity"), validators=[OptionalChoice()])
    placement_id = SelectField(_l("Placement"), coerce=int, validators=[OptionalChoice()])
    person = StringField(
        _l("Person (case number or name)"), validators=[Optional(), Length(max=120)]
    )

    def __init__(self, *args, rules=(), placements=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = status_choices()
        self.rule_id.choices = [(0, "—")] + [(rule.id, rule.code) for rule in rules]
        self.severity.choices = [("", "—"), *severity_choices()]
        self.placement_id.choices = shared_choices(
            "log placements", placements, lambda: [(0, "—")] + [(p.id, p.name) for p in placements]
        )

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))


class RuleForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=16)])
    title_id = StringField(_l("Title (Indonesian)"), validators=[DataRequired(), Length(max=200)])
    title_en = StringField(_l("Title (English)"), validators=[DataRequired(), Length(max=200)])
    description_id = TextAreaField(
        _l("Description (Indonesian)"), validators=[Optional(), Length(max=5000)]
    )
    description_en = TextAreaField(
        _l("Description (English)"), validators=[Optional(), Length(max=5000)]
    )
    is_criminal = BooleanField(_l("A criminal matter (allows referral to the police)"))
    is_active = BooleanField(_l("In force"), default=True)
    verbal_warning = BooleanField(_l("Verbal warning"))
    written_warning = BooleanField(_l("Written warning"))
    privilege_restriction_days = IntegerField(
        _l("Restriction of a privilege: longest, in days (empty: not allowed)"),
        validators=[Optional(), NumberRange(min=1, max=365)],
    )
    transfer_to_detention_days = IntegerField(
        _l("Transfer to the centre: longest, in days (empty: not allowed)"),
        validators=[Optional(), NumberRange(min=1, max=365)],
    )
    police_referral = BooleanField(_l("Referral to the police"))
    submit = SubmitField(_l("Save"))

    def sanctions(self) -> dict[str, int | None]:
        allowed = {}
        if self.verbal_warning.data:
            allowed["verbal_warning"] = None
        if self.written_warning.data:
            allowed["written_warning"] = None
        if self.privilege_restriction_days.data:
            allowed["privilege_restriction"] = self.privilege_restriction_days.data
        if self.transfer_to_detention_days.data:
            allowed["transfer_to_detention"] = self.transfer_to_detention_days.data
        if self.police_referral.data:
            allowed["police_referral"] = None
        return allowed


class ExplanationForm(FlaskForm):
    explained_on = DateField(_l("Date explained"), validators=[DataRequired()])
    language = StringField(_l("Language"), validators=[DataRequired(), Length(max=80)])
    interpreter = StringField(
        _l("Interpreter (empty if none)"), validators=[Optional(), Length(max=120)]
    )
    submit = SubmitField(_l("Record"))
