"""Forms of monitoring: periods, roll calls, flags."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from rudenim.forms import OptionalChoice, SelectField


def category_choices():
    from rudenim.monitoring.models import FlagCategory
    from rudenim.monitoring.services import category_label

    return [(category.value, category_label(category)) for category in FlagCategory]


def outcome_choices():
    from rudenim.monitoring.models import CheckInOutcome
    from rudenim.monitoring.services import outcome_label

    return [("", "—")] + [(outcome.value, outcome_label(outcome)) for outcome in CheckInOutcome]


class PeriodForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=[("election", _l("Election")), ("other", _l("Other"))])
    starts_on = DateField(_l("Starts on"), validators=[DataRequired()])
    ends_on = DateField(_l("Ends on (last day)"), validators=[DataRequired()])
    checkin_interval_hours = IntegerField(
        _l("Check-in interval while active (hours)"),
        # InputRequired, not DataRequired: 0 is out of range, not missing.
        validators=[InputRequired(), NumberRange(min=1, max=24 * 365)],
        default=24,
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])
    submit = SubmitField(_l("Open the period"))


class ClosePeriodForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for closing early"), validators=[DataRequired(), Length(max=2000)]
    )
    submit = SubmitField(_l("Close the period now"))


class RollCallEntryForm(FlaskForm):
    """One row of the roll call (a sub-form; the outer form carries the CSRF token)."""

    class Meta:
        csrf = False

    person_id = HiddenField()
    outcome = SelectField(_l("Outcome"), choices=outcome_choices, validators=[OptionalChoice()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=2000)])


class RollCallForm(FlaskForm):
    checked_at = DateTimeLocalField(
        _l("Time of the roll call (local)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    entries = FieldList(FormField(RollCallEntryForm))
    submit = SubmitField(_l("Record the roll call"))


class FollowUpForm(FlaskForm):
    note = TextAreaField(
        _l("How the absence was followed up"), validators=[DataRequired(), Length(max=2000)]
    )
    submit = SubmitField(_l("Record follow-up"))


class FlagForm(FlaskForm):
    """A flag for ONE person: there is no field that selects a group."""

    person_id = HiddenField(validators=[DataRequired()])
    period_id = SelectField(_l("Monitoring period"), coerce=int, validators=[DataRequired()])
    category = SelectField(_l("Category"), choices=category_choices, validators=[DataRequired()])
    violation_id = SelectField(
        _l("Upheld violation (conduct flags only)"), coerce=int, validators=[OptionalChoice()]
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l("At least a full sentence: what about this person calls for attention."),
    )
    handling_instructions = TextAreaField(
        _l("Handling instructions for staff"),
        validators=[DataRequired(), Length(max=1000)],
        description=_l('E.g. "Ask how they are; report threats to the duty supervisor."'),
    )
    ends_on = DateField(_l("Ends on"), validators=[DataRequired()])
    submit = SubmitField(_l("Propose the flag"))


class FlagDecisionForm(FlaskForm):
    decision = SelectField(
        _l("Decision"), choices=[("approve", _l("Approve")), ("reject", _l("Reject"))]
    )
    note = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Decide"))


class LiftFlagForm(FlaskForm):
    reason = TextAreaField(_l("Reason for lifting"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Lift the flag"))


class FlagToldForm(FlaskForm):
    told_on = DateField(_l("Date the person was told"), validators=[DataRequired()])
    submit = SubmitField(_l("Record"))
