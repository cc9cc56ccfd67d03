"""Users, signing in, passwords, roles and permissions, user administration."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
