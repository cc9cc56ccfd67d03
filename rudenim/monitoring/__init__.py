"""Heightened supervision in sensitive periods: periods, check-ins, flags."""

from flask import Blueprint

bp = Blueprint("monitoring", __name__)
