"""Retention: ``flask retention run [--dry-run]``.

People who left the centre's care more than RETENTION_YEARS ago are
anonymised: names, aliases, identifiers, the day and month of birth, and
every free-text note, statement and reason about them are cleared, in the
records and in the audit trail's values. Counts, dates, statuses and
categories stay, for statistics. One audit event records what was done,
without the erased values.

Everything is written with Core statements, not the ORM, so the automatic
audit hooks do not copy the values being erased into new events.
"""

from dataclasses import dataclass, field
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import delete, select, update

from rudenim.audit import chain
from rudenim.audit.capture import lock_chain
from rudenim.audit.context import Actor, acting_as
from rudenim.audit.services import record_event
from rudenim.cases.models import (
    Alias,
    CustodyEvent,
    DetentionReview,
    Identifier,
    NameToken,
    Person,
    VerificationEvent,
    VerificationTrack,
)
from rudenim.clock import local_today, utcnow
from rudenim.conduct.models import RulesExplanation, Violation, ViolationAmendment
from rudenim.extensions import db
from rudenim.monitoring.models import CheckIn, MonitoringFlag

ANONYMISED_NAME = "[anonymised]"

#: (model, {column: value it is cleared to}) for every free-text column about a person.
FREE_TEXT = [
    (CustodyEvent, {"reason": ""}),
    (DetentionReview, {"note": ""}),
    (VerificationEvent, {"note": "", "reference": None, "reference_key": None}),
    (VerificationTrack, {"reference": None, "reference_key": None}),
    (
        Violation,
        {
            "location": "",
            "description": "",
            "witnesses": "",
            "statement": None,
            "evidence": None,
            "reasons": None,
            "alternatives_considered": None,
            "sanction_privilege": None,
            "appeal_grounds": None,
            "appeal_reasons": None,
            "charge_interpreter": None,
        },
    ),
    (ViolationAmendment, {"old_value": "", "new_value": "", "reason": ""}),
    (RulesExplanation, {"interpreter": ""}),
    (CheckIn, {"note": "", "follow_up_note": None}),
    (
        MonitoringFlag,
        {"reason": "", "handling_instructions": "", "decision_note": None, "lift_reason": None},
    ),
]


def cutoff(today: date | None = None) -> date:
    """People who left care before this date are anonymised."""
    today = today or local_today()
    years = current_app.config["RETENTION_YEARS"]
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def due_query(today: date | None = None):
    """People out of care since before the cutoff, not yet anonymised."""
    return select(Person.id, Person.case_number).where(
        Person.is_in_care.is_(False),
        Person.anonymised_at.is_(None),
        Person.status_since < cutoff(today),
    )


@dataclass
class RetentionReport:
    people: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def run(*, dry_run: bool, today: date | None = None, batch: int = 500) -> RetentionReport:
    """Anonymise everyone due (or, with ``dry_run``, only say who would be)."""
    report = RetentionReport()
    due = db.session.execute(due_query(today).order_by(Person.id)).all()
    report.people = [case_number for _id, case_number in due]
    if dry_run or not due:
        return report
    lock_chain(db.session)
    connection = db.session.connection()
    ids = [person_id for person_id, _case in due]
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]

        def count(key, result):
            report.rows[key] = report.rows.get(key, 0) + max(result.rowcount, 0)

        count("aliases", connection.execute(delete(Alias).where(Alias.person_id.in_(chunk))))
        # The search index is made of the names: it goes with them.
        connection.execute(delete(NameToken).where(NameToken.person_id.in_(chunk)))
        count(
            "identifiers",
            connection.execute(delete(Identifier).where(Identifier.person_id.in_(chunk))),
        )
        for model, cleared in FREE_TEXT:
            count(
                model.__tablename__,
                connection.execute(
                    update(model).where(model.person_id.in_(chunk)).values(**cleared)
                ),
            )
        for person_id, birth in connection.execute(
            select(Person.id, Person.date_of_birth).where(Person.id.in_(chunk))
        ).all():
            connection.execute(
                update(Person)
                .where(Person.id == person_id)
                .values(
                    full_name=ANONYMISED_NAME,
                    name_key="",
                    notes=None,
                    date_of_birth=date(birth.year, 1, 1) if birth else None,
                    is_birth_date_estimated=bool(birth),
                    anonymised_at=utcnow(),
                    version=Person.version + 1,
                )
            )
        count("people", _Rowcount(len(chunk)))
        count("audit events erased", _Rowcount(chain.erase_payloads(connection, "Person", chunk)))
    record_event(
        chain.RETENTION_ACTION,
        details={
            "people": ids,
            "retention_years": current_app.config["RETENTION_YEARS"],
            "left_care_before": cutoff(today).isoformat(),
            "rows": report.rows,
        },
    )
    db.session.expire_all()
    return report


class _Rowcount:
    def __init__(self, rowcount: int):
        self.rowcount = rowcount


@click.group("retention")
def retention_cli():
    """Anonymise the records of people who left care long ago."""


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Only list who would be anonymised.")
@with_appcontext
def run_command(dry_run):
    """Anonymise people who left care more than RETENTION_YEARS ago."""
    with acting_as(Actor(user_id=None, name="retention")):
        report = run(dry_run=dry_run)
        if not dry_run:
            db.session.commit()
    verb = "would anonymise" if dry_run else "anonymised"
    click.echo(f"{verb} {len(report.people)} people (left care before {cutoff().isoformat()})")
    for case_number in report.people[:50]:
        click.echo(f"  {case_number}")
    if len(report.people) > 50:
        click.echo(f"  … and {len(report.people) - 50} more")
    for table, count in report.rows.items():
        click.echo(f"{table}: {count}")
