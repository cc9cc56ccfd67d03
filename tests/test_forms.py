"""The shared form pieces: a select drawn from kept choices looks exactly like WTForms' own."""

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import SelectField as PlainSelectField
from wtforms.widgets import Select

from rudenim.forms import SelectField, SharedChoices, shared_choices


class Pair(FlaskForm):
    class Meta:
        csrf = False

    quick = SelectField(coerce=int)
    plain = PlainSelectField(coerce=int)


def pair(choices, data=None) -> Pair:
    form = Pair(data={"quick": data, "plain": data})
    form.quick.choices = choices
    form.plain.choices = list(choices)
    return form


def drawn(field) -> str:
    """The field's markup with its name and id made the same for both fields."""
    return str(field()).replace(field.name, "x", 2)


CHOICES = [(0, "—"), (1, "Blok A (Rudenim)"), (2, 'Wisma "Baru" <&>'), (3, "Blok C")]


def test_kept_choices_are_drawn_as_wtforms_draws_them_for_each_selection(app):
    with app.test_request_context():
        shared = SharedChoices(CHOICES)
        for data in (None, 2, 3, None, 2):
            form = pair(shared, data)
            assert drawn(form.quick) == str(Select()(form.plain)).replace("plain", "x", 2)
        assert '<option selected value="2">Wisma &#34;Baru&#34; &lt;&amp;&gt;</option>' in str(
            pair(shared, 2).quick()
        )
        assert "selected" not in str(pair(shared, None).quick())
        # Each selection's options are kept once: None, 2 and 3.
        assert len(shared.rendered) == 3


def test_a_select_keeps_its_attributes_with_kept_choices(app):
    with app.test_request_context():
        form = pair(SharedChoices(CHOICES), 1)
        html = str(form.quick(class_="wide", **{"data-x": "1"}))
        assert html.startswith('<select class="wide" data-x="1" id="quick" name="quick">')
        assert html.endswith("</select>") and html.count("<option") == len(CHOICES)


def test_shared_choices_are_built_again_only_for_new_data(app):
    built = []

    def build(rows):
        def make():
            built.append(rows)
            return [(row, str(row)) for row in rows]

        return make

    rows = [1, 2]
    with app.test_request_context():
        first = shared_choices("test", rows, build(rows))
        assert shared_choices("test", rows, build(rows)) is first  # the same data: kept
        newer = [1, 2, 3]
        assert shared_choices("test", newer, build(newer)) == [(1, "1"), (2, "2"), (3, "3")]
        assert built == [rows, newer]


def test_a_value_sent_for_kept_choices_must_be_one_of_them(app):
    with app.test_request_context():
        app.preprocess_request()  # as a request does: WTForms' messages from our catalogue
        for value, valid in (("2", True), ("0", True), ("9", False), ("-1", False)):
            form = Pair(formdata=MultiDict({"quick": value, "plain": value}))
            form.quick.choices = SharedChoices(CHOICES)
            form.plain.choices = list(CHOICES)
            assert form.validate() is valid, value
            assert form.quick.errors == form.plain.errors
        assert form.quick.errors == ["Bukan pilihan yang tersedia."]  # the interface's language
