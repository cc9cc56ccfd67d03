"""House-rule violations and their review with due process."""

from flask import Blueprint

bp = Blueprint("conduct", __name__)
