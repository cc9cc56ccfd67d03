"""Import every domain's models so SQLAlchemy and Alembic see the whole schema."""

from rudenim.audit.models import AuditChainHead, AuditEvent
from rudenim.auth.models import LoginThrottle, User, UserSession
from rudenim.cases.models import (
    Alias,
    CaseNumberCounter,
    CustodyEvent,
    DetentionReview,
    EthnicitySuggestion,
    Identifier,
    Person,
    PersonVulnerability,
    Placement,
)

__all__ = [
    "Alias",
    "AuditChainHead",
    "AuditEvent",
    "CaseNumberCounter",
    "CustodyEvent",
    "DetentionReview",
    "EthnicitySuggestion",
    "Identifier",
    "LoginThrottle",
    "Person",
    "PersonVulnerability",
    "Placement",
    "User",
    "UserSession",
]
