"""Control flow a hook or tool raises: `StopRun` ends the run with a structured reason."""

from __future__ import annotations

from .errors import SpineError
from .stop import StopReason

__all__ = ["StopRun"]


class StopRun(SpineError):
    """Raised by a middleware hook (or a tool) to end the run with a structured reason.

    `message` becomes the answer for non-error reasons (e.g. a guardrail explanation) or the
    error text when `reason` is `StopReason.ERROR`.
    """

    def __init__(self, reason: StopReason | str = StopReason.GUARDRAIL, message: str = "") -> None:
        reason = StopReason(reason)
        super().__init__(message or reason.value)
        self.reason = reason
        self.message = message
