"""Forms of the people registry."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from rudenim.cases import nationalities
from rudenim.cases.models import CustodyStatus, IdentifierKind, PlacementKind
from rudenim.forms import OptionalChoice, SelectField, shared_choices
from rudenim.web import record_id


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of tick boxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def sex_choices():
    return [
        ("", "—"),
        ("female", _l("Female")),
        ("male", _l("Male")),
        ("other", _l("Other")),
        ("unknown", _l("Unknown")),
    ]


def legal_category_choices():
    return [
        ("asylum_seeker", _l("Asylum seeker")),
        ("refugee", _l("Refugee")),
        ("immigration_detainee", _l("Immigration detainee")),
        ("unknown", _l("Unknown")),
    ]


def vulnerability_choices():
    return [
        ("minor", _l("Minor")),
        ("unaccompanied_minor", _l("Unaccompanied minor")),
        ("medical", _l("Medical needs")),
        ("disability", _l("Disability")),
        ("pregnant", _l("Pregnant")),
        ("elderly", _l("Elderly")),
        ("survivor_of_violence", _l("Survivor of violence")),
    ]


def custody_status_choices(in_care_only: bool = False):
    from rudenim.cases.services import custody_status_label

    return [
        (status.value, custody_status_label(status))
        for status in CustodyStatus
        if not in_care_only or status.is_in_care
    ]


IDENTIFIER_FIELDS = [kind.value for kind in IdentifierKind]


class PersonForm(FlaskForm):
    """Identity data; the registration form adds the first custody step."""

    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    aliases = TextAreaField(
        _l("Other names (aliases)"),
        validators=[Optional(), Length(max=2000)],
        description=_l("One per line: other spellings, names in earlier documents."),
    )
    sex = SelectField(_l("Sex"), choices=sex_choices, validators=[DataRequired()])
    date_of_birth = DateField(_l("Date of birth"), validators=[Optional()])
    is_birth_date_estimated = BooleanField(_l("Date of birth is estimated"))
    age_years = IntegerField(
        _l("Age in years (when no date of birth is known)"),
        validators=[Optional(), NumberRange(min=0, max=120)],
    )
    nationality = SelectField(_l("Nationality"), validators=[DataRequired()])
    claimed_ethnicity = StringField(
        _l("Claimed ethnicity"),
        validators=[Optional(), Length(max=120)],
        description=_l("As the person states it. Suggestions appear while typing."),
    )
    languages = StringField(_l("Languages spoken"), validators=[Optional(), Length(max=200)])
    needs_interpreter = BooleanField(_l("Needs an interpreter"))
    legal_category = SelectField(
        _l("Legal category"), choices=legal_category_choices, validators=[DataRequired()]
    )
    vulnerabilities = MultiCheckboxField(
        _l("Vulnerabilities"), choices=vulnerability_choices, validators=[OptionalChoice()]
    )
    arrived_on = DateField(_l("Arrival date"), validators=[DataRequired()])
    unhcr_registration = StringField(_l("UNHCR registration no."), validators=[Length(max=80)])
    unhcr_case = StringField(_l("UNHCR case no."), validators=[Length(max=80)])
    iom_case = StringField(_l("IOM case no."), validators=[Length(max=80)])
    passport = StringField(_l("Passport"), validators=[Length(max=80)])
    other = StringField(_l("Other identifier"), validators=[Length(max=80)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.nationality.choices = nationality_choices()

    def validate_age_years(self, field):
        if field.data is not None and self.date_of_birth.data is not None:
            raise ValidationError(_l("Give either a date of birth or an age, not both."))

    def identifier_values(self) -> dict[str, str]:
        return {name: getattr(self, name).data or "" for name in IDENTIFIER_FIELDS}

    def alias_list(self) -> list[str]:
        return [line for line in (self.aliases.data or "").splitlines() if line.strip()]


class RegisterForm(PersonForm):
    status = SelectField(_l("Custody status"), validators=[DataRequired()])
    placement_id = SelectField(_l("Placement"), coerce=int, validators=[OptionalChoice()])
    #: Ids of the possible matches the user was shown and confirmed as different.
    confirmed_ids = HiddenField()
    confirm_different = BooleanField(
        _l("I have checked the possible matches: this is a different person.")
    )
    submit = SubmitField(_l("Register"))

    def __init__(self, *args, placements=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = [
            (CustodyStatus.DETAINED.value, custody_status_choices()[0][1]),
            *[c for c in custody_status_choices(in_care_only=True) if c[0] != "detained"],
        ]
        self.placement_id.choices = placement_choices(placements)


class EditPersonForm(PersonForm):
    version = HiddenField()
    submit = SubmitField(_l("Save"))


def placement_choices(placements):
    """(id, label) pairs grouped by kind, with "none" first: built once for the
    placements list a worker keeps (services.active_placements)."""

    def build():
        labels = {PlacementKind.CENTRE: _("Centre"), PlacementKind.HOUSING: _("Housing")}
        return [(0, "—")] + [
            (placement.id, f"{placement.name} ({labels[placement.kind]})")
            for placement in placements
        ]

    return shared_choices("placements", placements, build)


def nationality_choices():
    """Every nationality, after a blank choice for "any" or "not given"."""
    return shared_choices("nationalities", None, lambda: [("", "—"), *nationalities.choices()])


class CustodyForm(FlaskForm):
    status = SelectField(_l("New status"), validators=[DataRequired()])
    placement_id = SelectField(_l("Placement"), coerce=int, validators=[OptionalChoice()])
    effective_on = DateField(_l("Effective date"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])
    reopen = BooleanField(_l("Reopen the record (supervisor)"))
    submit = SubmitField(_l("Record custody change"))

    def __init__(self, *args, placements=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = custody_status_choices()
        self.placement_id.choices = placement_choices(placements)


class DetentionReviewForm(FlaskForm):
    reviewed_on = DateField(_l("Review date"), validators=[DataRequired()])
    outcome = SelectField(
        _l("Outcome"),
        choices=[
            ("continue", _l("Detention continues")),
            ("release_recommended", _l("Release recommended")),
            ("housing_recommended", _l("Community housing recommended")),
        ],
    )
    note = TextAreaField(_l("Grounds"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Record review"))


class PeopleFilterForm(FlaskForm):
    """The people list's search and filters (GET; nothing changes)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)])
    status = SelectMultipleField(_l("Custody status"), validators=[OptionalChoice()])
    placement_id = SelectField(_l("Placement"), coerce=int, validators=[OptionalChoice()])
    nationality = SelectField(_l("Nationality"), validators=[OptionalChoice()])
    ethnicity = StringField(_l("Claimed ethnicity"), validators=[Optional(), Length(max=120)])
    legal_category = SelectField(_l("Legal category"), validators=[OptionalChoice()])
    vulnerability = SelectField(_l("Vulnerability"), validators=[OptionalChoice()])
    arrived_from = DateField(_l("Arrived from"), validators=[Optional()])
    arrived_to = DateField(_l("Arrived until"), validators=[Optional()])
    include_left = BooleanField(_l("Include people who left care"))

    def __init__(self, *args, placements=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = custody_status_choices()
        self.placement_id.choices = placement_choices(placements)
        self.nationality.choices = nationality_choices()
        self.legal_category.choices = [("", "—"), *legal_category_choices()]
        self.vulnerability.choices = [("", "—"), *vulnerability_choices()]

    def validate_arrived_to(self, field):
        if field.data and self.arrived_from.data and field.data < self.arrived_from.data:
            raise ValidationError(_l("The end date is before the start date."))


class PlacementForm(FlaskForm):
    kind = SelectField(
        _l("Kind"),
        choices=[
            ("centre", _l("Block or room in the centre")),
            ("housing", _l("Community housing site")),
        ],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    capacity = IntegerField(_l("Capacity"), validators=[Optional(), NumberRange(min=0, max=100000)])
    is_active = BooleanField(_l("In use"), default=True)
    submit = SubmitField(_l("Save"))


class EthnicityForm(FlaskForm):
    name = StringField(_l("Ethnicity"), validators=[DataRequired(), Length(max=80)])
    submit = SubmitField(_l("Add"))


def verification_status_choices(include_not_referred: bool = True):
    from rudenim.cases.models import VerificationStatus
    from rudenim.cases.verification import status_label

    return [
        (status.value, status_label(status))
        for status in VerificationStatus
        if include_not_referred or status is not VerificationStatus.NOT_REFERRED
    ]


class VerificationStepForm(FlaskForm):
    to_status = SelectField(_l("New status"), validators=[DataRequired()])
    occurred_on = DateField(_l("Date of the step"), validators=[DataRequired()])
    reference = StringField(_l("Agency reference no."), validators=[Optional(), Length(max=80)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Record step"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.to_status.choices = verification_status_choices(include_not_referred=False)


class BulkStepForm(FlaskForm):
    agency = HiddenField(validators=[DataRequired()])
    # InputRequired, not DataRequired: a list with a value that is no id keeps
    # WTForms' "could not be coerced" instead of turning into "required".
    person_ids = SelectMultipleField(
        _l("People"), coerce=record_id, validate_choice=False, validators=[InputRequired()]
    )
    to_status = SelectField(_l("New status"), validators=[DataRequired()])
    occurred_on = DateField(_l("Date of the step"), validators=[DataRequired()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    all_or_nothing = BooleanField(_l("All or nothing: change no one if anyone is refused"))
    submit = SubmitField(_l("Apply to the selected people"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.to_status.choices = verification_status_choices(include_not_referred=False)


class BoardFilterForm(PeopleFilterForm):
    """The board's filters: the people list's, plus the track's status."""

    agency = SelectField(
        _l("Agency"), choices=[("unhcr", "UNHCR"), ("iom", "IOM")], default="unhcr"
    )
    vstatus = SelectMultipleField(_l("Verification status"), validators=[OptionalChoice()])
    stalled = BooleanField(_l("Only stalled"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.vstatus.choices = verification_status_choices()
