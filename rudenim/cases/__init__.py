"""People in the centre's care: identity, custody, placement, verification."""

from flask import Blueprint

bp = Blueprint("cases", __name__)

#: Callables (person) → rendered HTML section, added by later domains
#: (verification, violations, flags, check-ins) to the person page.
detail_sections: list = []
#: Callables (person ids) → [(person id, mark)] for the people list's rows.
list_extensions: list = []
