"""People in the centre's care: identity, custody, placement, verification."""

from flask import Blueprint

bp = Blueprint("cases", __name__)

#: Callables (person) → (template name, data) or None: sections later domains
#: (violations, flags, check-ins, disclosures) add to the person page.
detail_sections: list = []
#: Callables (person ids) → [(person id, mark)] for the people list's rows.
list_extensions: list = []
