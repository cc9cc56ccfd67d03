"""The reference data a new centre starts with: ``flask reference load``.

Loading is idempotent: what exists (by name) is left as the admin set it.
"""

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from rudenim.audit.context import Actor, acting_as
from rudenim.cases.models import EthnicitySuggestion, Placement, PlacementKind
from rudenim.conduct.services import load_catalogue
from rudenim.extensions import db

#: (kind, name, capacity)
PLACEMENTS = [
    (PlacementKind.CENTRE, "Blok A", 60),
    (PlacementKind.CENTRE, "Blok B", 60),
    (PlacementKind.CENTRE, "Blok C", 40),
    (PlacementKind.CENTRE, "Blok D (keluarga)", 30),
    (PlacementKind.CENTRE, "Ruang kesehatan", 6),
    (PlacementKind.HOUSING, "Wisma Lavender", 120),
    (PlacementKind.HOUSING, "Hotel Ina Boi", 150),
    (PlacementKind.HOUSING, "Wisma Kupang Indah", 100),
    (PlacementKind.HOUSING, "Penginapan Oesapa", 80),
    (PlacementKind.HOUSING, "Wisma Sinar Tenun", 90),
]

#: Names people in Indonesia's centres commonly state; suggestions only.
ETHNICITIES = [
    "Amhara",
    "Arab",
    "Baloch",
    "Bidoon",
    "Fur",
    "Hazara",
    "Kurdish",
    "Masalit",
    "Nuba",
    "Oromo",
    "Pashtun",
    "Persian",
    "Punjabi",
    "Rohingya",
    "Sinhala",
    "Somali",
    "Tajik",
    "Tamil",
    "Tigrayan",
    "Uzbek",
]


def load_placements_and_ethnicities() -> dict[str, int]:
    """Add the starting placements and ethnicity suggestions that are missing."""
    added = {"placements": 0, "ethnicity suggestions": 0}
    existing = {name.lower() for name in db.session.scalars(select(func.lower(Placement.name)))}
    for kind, name, capacity in PLACEMENTS:
        if name.lower() not in existing:
            db.session.add(Placement(kind=kind, name=name, capacity=capacity, is_active=True))
            added["placements"] += 1
    known = {
        name.lower() for name in db.session.scalars(select(func.lower(EthnicitySuggestion.name)))
    }
    for name in ETHNICITIES:
        if name.lower() not in known:
            db.session.add(EthnicitySuggestion(name=name))
            added["ethnicity suggestions"] += 1
    db.session.flush()
    return added


def load_reference() -> dict[str, int]:
    """Load every domain's starting reference data."""
    added = load_placements_and_ethnicities()
    added.update(load_catalogue())
    return added


@click.group("reference")
def reference_cli():
    """Reference data: placements, ethnicity suggestions, house rules."""


@reference_cli.command("load")
@with_appcontext
def load():
    """Load the starting reference data (what exists is kept)."""
    with acting_as(Actor(user_id=None, name="reference-load")):
        added = load_reference()
        db.session.commit()
    for what, count in added.items():
        click.echo(f"{what}: {count} added")
