"""The audit trail: every change of a case record, login and export."""

from flask import Blueprint

bp = Blueprint("audit", __name__)
