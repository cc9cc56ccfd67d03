"""People in the centre's care: identity, custody, placement, verification."""

from flask import Blueprint

bp = Blueprint("cases", __name__)
