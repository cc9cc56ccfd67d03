"""Every user-facing string has its Bahasa Indonesia translation."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "rudenim" / "translations" / "id" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "_l": None,
    "pgettext": ((1, "c"), 2),
    "lazy_pgettext": ((1, "c"), 2),
}


def _catalogue():
    with CATALOGUE.open("rb") as handle:
        return read_po(handle)


def _source_messages() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "rudenim"), method_map=method_map, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_string_in_the_code_is_in_the_catalogue():
    catalogue = _catalogue()
    known = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalogue if m.id}
    missing = sorted(_source_messages() - known)
    assert not missing, f"run `make messages` and translate: {missing}"


def test_every_catalogue_entry_is_translated_and_not_fuzzy():
    untranslated = []
    for message in _catalogue():
        if not message.id:
            continue
        text = message.string[0] if isinstance(message.id, tuple) else message.string
        if not text or message.fuzzy:
            untranslated.append(message.id)
    assert not untranslated, f"translate these in {CATALOGUE.name}: {untranslated}"


def test_placeholders_survive_translation():
    import re

    pattern = re.compile(r"%\((\w+)\)[sd]")
    wrong = []
    for message in _catalogue():
        if not message.id or isinstance(message.id, tuple):
            continue
        if sorted(pattern.findall(message.id)) != sorted(pattern.findall(message.string)):
            wrong.append(message.id)
    assert not wrong, wrong


def test_interface_is_indonesian_by_default_and_english_on_request(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Masuk" in page and "Nama pengguna" in page
    client.post("/auth/language", data={"locale": "en", "next": "/auth/login"})
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Sign in" in page and "Username" in page


def test_wtforms_own_messages_are_all_in_the_catalogue():
    from wtforms.i18n import messages_path

    with (Path(messages_path()) / "wtforms.pot").open("rb") as handle:
        theirs = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(handle) if m.id}
    ours = {m.id[0] if isinstance(m.id, tuple) else m.id for m in _catalogue() if m.id}
    assert theirs - ours == set(), "add them to rudenim/wtforms_messages.py and translate"


def test_wtforms_messages_are_in_the_interface_language(client):
    # An empty sign-in form: WTForms' "required" message, Indonesian by default.
    page = client.post("/auth/login", data={"username": "", "password": ""})
    assert "Kolom ini wajib diisi." in page.get_data(as_text=True)
    client.post("/auth/language", data={"locale": "en", "next": "/auth/login"})
    page = client.post("/auth/login", data={"username": "", "password": ""})
    text = page.get_data(as_text=True)
    assert "This field is required." in text and "Kolom ini wajib diisi." not in text


def test_template_strings_are_translated_with_their_values_escaped(app):
    # Templates' _() and gettext() are the app's own one-step gettext: the
    # Indonesian text, a value's markup escaped, and markup the template made
    # itself (Markup) kept, as with Jinja's own newstyle gettext.
    from flask import render_template_string
    from markupsafe import Markup

    source = '{{ _("%(name)s is registered as %(case)s.", name=name, case="RDN-1") }}'
    with app.test_request_context("/"):
        typed = render_template_string(source, name="<b>Ayesha</b>")
        made = render_template_string(source, name=Markup("<b>Ayesha</b>"))
        plain = render_template_string('{{ gettext("100%% of %(n)d", n=3) }}')
    assert typed == "&lt;b&gt;Ayesha&lt;/b&gt; telah diregistrasi dengan nomor kasus RDN-1."
    assert made == "<b>Ayesha</b> telah diregistrasi dengan nomor kasus RDN-1."
    # A format string even without a translation: %% is one percent sign.
    assert plain == "100% of 3"
