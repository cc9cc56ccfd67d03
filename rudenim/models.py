"""Import every domain's models so SQLAlchemy and Alembic see the whole schema."""

from rudenim.audit.models import AuditChainHead, AuditEvent
from rudenim.auth.models import LoginThrottle, User, UserSession

__all__ = ["AuditChainHead", "AuditEvent", "LoginThrottle", "User", "UserSession"]
