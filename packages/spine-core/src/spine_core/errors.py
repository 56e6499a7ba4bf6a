"""The exceptions Spine raises, and the provider error taxonomy every provider maps into."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

__all__ = [
    "CheckpointConflict",
    "OutputValidationError",
    "PluginNotFoundError",
    "ProviderError",
    "ProviderErrorKind",
    "ResumeError",
    "SpineError",
    "ToolValidationError",
    "parse_retry_after",
]


class SpineError(Exception):
    """Base class of every error Spine raises on purpose."""


class ProviderErrorKind(StrEnum):
    """Closed set of provider failure kinds; every provider maps its SDK's exceptions here."""

    RATE_LIMIT = "rate_limit"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    CONTEXT_LENGTH = "context_length"
    CONTENT_FILTER = "content_filter"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    SERVER = "server"
    OVERLOADED = "overloaded"
    UNKNOWN = "unknown"


_RETRYABLE = frozenset(
    {
        ProviderErrorKind.RATE_LIMIT,
        ProviderErrorKind.TIMEOUT,
        ProviderErrorKind.CONNECTION,
        ProviderErrorKind.SERVER,
        ProviderErrorKind.OVERLOADED,
    }
)


class ProviderError(SpineError):
    """A model call failed.

    Args:
        message: Human-readable description (the provider's own message where there is one).
        kind: The normalised failure kind.
        status: HTTP status code, when the failure came with one.
        retryable: Whether trying again can succeed. Defaults from `kind`: rate_limit, timeout,
            connection, server and overloaded are retryable; auth, bad_request, context_length,
            content_filter and unknown are not.
        retry_after_s: Seconds the provider asked us to wait (from `retry-after` /
            `retry-after-ms` headers or the error body), or None.
        provider: Provider scheme (e.g. "anthropic").
        model: Model name.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ProviderErrorKind | str = ProviderErrorKind.UNKNOWN,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after_s: float | None = None,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = ProviderErrorKind(kind)
        self.status = status
        self.retryable = self.kind in _RETRYABLE if retryable is None else retryable
        self.retry_after_s = retry_after_s
        self.provider = provider
        self.model = model

    def __str__(self) -> str:
        where = ":".join(p for p in (self.provider, self.model) if p)
        status = f" HTTP {self.status}" if self.status else ""
        return f"{self.kind.value}{status}{f' from {where}' if where else ''}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data (stored on `Result.error` and in traces)."""
        return {
            "type": "ProviderError",
            "message": self.message,
            "kind": self.kind.value,
            "status": self.status,
            "retryable": self.retryable,
            "retry_after_s": self.retry_after_s,
            "provider": self.provider,
            "model": self.model,
        }


class ToolValidationError(SpineError):
    """Tool arguments from the model did not validate against the tool's schema.

    The kernel turns it into a tool-error message to the model; it never ends a run.
    """

    def __init__(self, tool: str, detail: str | None = None) -> None:
        super().__init__(
            tool if detail is None else f"Invalid arguments for tool '{tool}': {detail}"
        )
        self.tool = tool
        self.detail = detail or tool


class ResumeError(SpineError, ValueError):
    """`Agent.resume` cannot continue this token: no such session, nothing to resume, a stale
    token (that pause was already resolved), a decision that does not fit the pause, or
    another worker claimed the pause first."""


class OutputValidationError(SpineError):
    """The model's final answer did not validate against `output_type` after all repairs."""


class CheckpointConflict(SpineError):
    """A checkpoint write lost a compare-and-set race on `State.revision`.

    Raised by `CheckpointStore.put` when the stored revision differs from the state's: another
    worker committed first. Reload the state and decide; nothing was overwritten.
    """

    def __init__(self, session_id: str, expected: int, actual: int | None) -> None:
        super().__init__(
            f"checkpoint conflict on session '{session_id}': "
            f"expected revision {expected}, store has {actual}"
        )
        self.session_id = session_id
        self.expected = expected
        self.actual = actual


class PluginNotFoundError(SpineError, LookupError):
    """No plugin is registered under a name; the message lists what is installed."""


_BODY_RETRY = re.compile(
    r"(?:retry[ _-]?after|try again in|retry in|retryDelay)"
    r"[\"':= ]*\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s)?",
    re.IGNORECASE,
)


def parse_retry_after(
    headers: Mapping[str, str] | None = None, body: str | None = None
) -> float | None:
    """Seconds to wait before retrying, from response headers or an error body.

    Reads `retry-after-ms` (milliseconds; OpenAI and Anthropic send it), then `retry-after`
    (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), then phrases in the body such as
    "Please try again in 2.5s" or `"retryDelay": "3s"` (Google RPC RetryInfo).

    Returns:
        Seconds (>= 0), or None when nothing says how long to wait.
    """
    if headers:
        lowered = {k.lower(): v for k, v in headers.items()}
        ms = lowered.get("retry-after-ms")
        if ms is not None:
            try:
                return max(float(ms) / 1000.0, 0.0)
            except ValueError:
                pass
        value = lowered.get("retry-after")
        if value is not None:
            try:
                return max(float(value), 0.0)
            except ValueError:
                import email.utils  # only for the rare HTTP-date form; keeps `email` off import

                try:
                    parsed = email.utils.parsedate_to_datetime(value)
                except (TypeError, ValueError):
                    parsed = None
                if parsed is not None:
                    return max(parsed.timestamp() - time.time(), 0.0)
    if body:
        match = _BODY_RETRY.search(body)
        if match:
            amount = float(match.group(1))
            return amount / 1000.0 if (match.group(2) or "").lower() == "ms" else amount
    return None
