"""Import every domain's models so SQLAlchemy and Alembic see the whole schema."""

from rudenim.audit.models import AuditChainHead, AuditEvent
from rudenim.auth.models import LoginThrottle, RecoveryCode, User, UserSession
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
    VerificationEvent,
    VerificationTrack,
)
from rudenim.conduct.models import (
    HouseRule,
    RuleSanction,
    RulesExplanation,
    Violation,
    ViolationAmendment,
)
from rudenim.monitoring.models import CheckIn, MonitoringFlag, MonitoringPeriod
from rudenim.reports.models import DisclosedPerson, Disclosure

__all__ = [
    "RecoveryCode",
    "CheckIn",
    "MonitoringFlag",
    "MonitoringPeriod",
    "HouseRule",
    "RuleSanction",
    "RulesExplanation",
    "Violation",
    "ViolationAmendment",
    "Alias",
    "AuditChainHead",
    "AuditEvent",
    "CaseNumberCounter",
    "CustodyEvent",
    "DisclosedPerson",
    "Disclosure",
    "DetentionReview",
    "EthnicitySuggestion",
    "Identifier",
    "LoginThrottle",
    "Person",
    "PersonVulnerability",
    "Placement",
    "User",
    "UserSession",
    "VerificationEvent",
    "VerificationTrack",
]
