"""``flask audit verify``: walk the hash chain."""

import click
from flask.cli import AppGroup

from rudenim.audit.services import verify_chain

audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
def verify():
    """Check every link of the chain; name the first broken one."""
    report = verify_chain()
    if not report.ok:
        click.echo(f"BROKEN at event {report.broken_at}: {report.problem}", err=True)
        raise SystemExit(1)
    click.echo(f"OK {report.count} events")
