"""Who is acting: the signed-in user in a request, the operator on the CLI."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import g, has_app_context, has_request_context, request


@dataclass(frozen=True)
class Actor:
    """The person or process an audit event is attributed to."""

    user_id: int | None
    name: str
    ip: str | None = None
    request_id: str | None = None


SYSTEM = Actor(user_id=None, name="system")


def current_actor() -> Actor:
    """The actor of the current request or command."""
    if has_app_context() and "audit_actor" in g:
        return g.audit_actor
    if has_request_context():
        return Actor(
            user_id=None,
            name="anonymous",
            ip=request.remote_addr,
            request_id=g.get("request_id"),
        )
    return SYSTEM


def set_actor(actor: Actor) -> None:
    """Attribute what follows in this app context to ``actor``."""
    g.audit_actor = actor


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Attribute the events written inside the block to ``actor``."""
    previous = g.get("audit_actor")
    g.audit_actor = actor
    try:
        yield actor
    finally:
        if previous is None:
            g.pop("audit_actor", None)
        else:
            g.audit_actor = previous
