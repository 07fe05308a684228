"""What a service raises when the studio's rules refuse a request.

Each error carries the message for the user (``str(exc)``). The page and the API turn
them into answers in one place each: ``studio.api.base.api_exception_handler`` (the
status code per class below) and ``studio.views.errors`` (a message or a form error).
Invalid input stays Django's ``ValidationError`` (400, field errors), "not yours" stays
``Http404`` and "your role cannot" ``PermissionDenied``.
"""

from __future__ import annotations


class StudioError(Exception):
    """A request the rules refuse as it stands (API: 400, shaped like a field error)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # the input it is about, if any

    @property
    def messages(self) -> list[str]:
        """As ``ValidationError.messages``, so a caller can show either the same way."""
        return [self.message]


class Refused(StudioError):
    """Not allowed for this row (a rejected draft cannot run; results are for ad copy
    only): the request itself is wrong, whatever happens next (400)."""


class WrongState(StudioError):
    """Not allowed in the row's current state: already ended, already on the base model,
    not promotable, the last admin (409)."""


class Busy(WrongState):
    """Someone or something holds it right now: the brief is being written, another
    editor reviews the draft, a training job is active (409)."""


class Stale(WrongState):
    """The row changed since the user read it (412)."""
