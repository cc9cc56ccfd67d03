"""Domain errors: raised by services, shown to the user as a message.

Each carries a translated, actionable message. Views catch ``DomainError``,
flash ``str(exc)`` and keep the user's input on the form.
"""


class DomainError(Exception):
    """A rule refused the request; nothing was changed."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        #: The form field the message belongs to, when there is one.
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class NotFound(DomainError):
    """The record asked for does not exist."""


class PermissionDenied(DomainError):
    """The acting user may not do this to this record."""


class IllegalTransition(DomainError):
    """A status change the state machine does not allow."""


class StaleRecord(DomainError):
    """Someone else saved the record after the form was opened."""

    def __init__(self, message: str, *, current=None):
        super().__init__(message)
        #: The record as it is now, to show the user what changed.
        self.current = current


class DuplicateRecord(DomainError):
    """A value that must be unique is already held by another record."""

    def __init__(self, message: str, *, field: str | None = None, other=None):
        super().__init__(message, field=field)
        #: The record that already holds the value.
        self.other = other
