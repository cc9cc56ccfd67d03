"""Who may do what: the ONE table that maps roles to permissions.

Views ask for a permission (``@permission_required("case.edit")``), never for a
role. To change what a role may do, change this table and nothing else.
"""

import enum


class Role(enum.StrEnum):
    """Each user has exactly one role."""

    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    VIEWER = "viewer"
    ADMIN = "admin"


OFFICER, SUPERVISOR, VIEWER, ADMIN = Role.OFFICER, Role.SUPERVISOR, Role.VIEWER, Role.ADMIN

#: permission → the roles that hold it.
PERMISSIONS: dict[str, frozenset[Role]] = {
    # Everyone signed in
    "dashboard.view": frozenset({OFFICER, SUPERVISOR, VIEWER, ADMIN}),
    "account.manage_own": frozenset({OFFICER, SUPERVISOR, VIEWER, ADMIN}),
    # People in the centre's care
    "case.view": frozenset({OFFICER, SUPERVISOR, VIEWER}),
    "case.create": frozenset({OFFICER, SUPERVISOR}),
    "case.edit": frozenset({OFFICER, SUPERVISOR}),
    "custody.record": frozenset({OFFICER, SUPERVISOR}),
    "rules.explain": frozenset({OFFICER, SUPERVISOR}),
    "custody.reopen": frozenset({SUPERVISOR}),
    "detention.review": frozenset({SUPERVISOR}),
    "case.history": frozenset({SUPERVISOR}),
    "case.print_record": frozenset({SUPERVISOR}),
    # IOM and UNHCR verification
    "verification.view": frozenset({OFFICER, SUPERVISOR, VIEWER}),
    "verification.update": frozenset({OFFICER, SUPERVISOR}),
    "export.verification": frozenset({SUPERVISOR}),
    "disclosure.view": frozenset({SUPERVISOR}),
    # House rules and violations
    "violation.view": frozenset({OFFICER, SUPERVISOR, VIEWER}),
    #: Without it, an officer sees only the violations they reported.
    "violation.view_all": frozenset({SUPERVISOR, VIEWER}),
    "violation.report": frozenset({OFFICER, SUPERVISOR}),
    "violation.review": frozenset({OFFICER, SUPERVISOR}),
    "violation.decide": frozenset({SUPERVISOR}),
    "violation.appeal": frozenset({SUPERVISOR}),
    "violation.amend": frozenset({SUPERVISOR}),
    "export.violations": frozenset({SUPERVISOR}),
    # Monitoring periods, check-ins and flags
    "monitoring.view": frozenset({OFFICER, SUPERVISOR, VIEWER}),
    "checkin.record": frozenset({OFFICER, SUPERVISOR}),
    "flag.propose": frozenset({OFFICER, SUPERVISOR}),
    "flag.decide": frozenset({SUPERVISOR}),
    "period.manage": frozenset({SUPERVISOR}),
    # Oversight and administration
    "audit.view": frozenset({SUPERVISOR, ADMIN}),
    "users.manage": frozenset({ADMIN}),
    "reference.manage": frozenset({ADMIN}),
}

#: Routes open without signing in declare this instead of a permission.
PUBLIC = "public"


def role_has(role: Role | str, permission: str) -> bool:
    """Whether ``role`` holds ``permission``; an unknown permission is a bug."""
    try:
        holders = PERMISSIONS[permission]
    except KeyError:
        raise KeyError(f"unknown permission {permission!r}") from None
    return Role(role) in holders


def permissions_of(role: Role | str) -> frozenset[str]:
    """Every permission a role holds."""
    return frozenset(name for name, roles in PERMISSIONS.items() if Role(role) in roles)
