"""The dashboard, verification-status lists and their exports."""

from flask import Blueprint

bp = Blueprint("reports", __name__)
