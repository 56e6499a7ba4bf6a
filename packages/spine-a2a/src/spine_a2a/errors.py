"""How failures talking to a remote A2A agent map into Spine's error taxonomy.

Every failure of `A2AAgent` is an `A2AAgentError`, a `ProviderError` subclass, so the same
`kind` / `retryable` / `status` fields (and the same `Retry` middleware) apply to remote agents
as to model providers. JSON-RPC error codes are those of the A2A 1.0 specification, section 5.4
(`a2a.utils.errors.JSON_RPC_ERROR_CODE_MAP` in a2a-sdk).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from a2a.client.errors import A2AClientError, A2AClientTimeoutError, AgentCardResolutionError
from a2a.utils import errors as a2a_errors

from spine_core import ProviderError, ProviderErrorKind, parse_retry_after

__all__ = ["VERSION_NOT_SUPPORTED", "A2AAgentError"]

VERSION_NOT_SUPPORTED = -32009
"""JSON-RPC code of "A2A version not supported" (the `A2A-Version` header did not match)."""

# Kind and a one-line explanation per A2A error class (the message of the remote follows).
_KNOWN: dict[type[a2a_errors.A2AError], tuple[ProviderErrorKind, str]] = {
    a2a_errors.VersionNotSupportedError: (
        ProviderErrorKind.BAD_REQUEST,
        "A2A protocol version mismatch",
    ),
    a2a_errors.MethodNotFoundError: (ProviderErrorKind.BAD_REQUEST, "unknown A2A method"),
    a2a_errors.TaskNotFoundError: (ProviderErrorKind.BAD_REQUEST, "task not found"),
    a2a_errors.TaskNotCancelableError: (ProviderErrorKind.BAD_REQUEST, "task not cancelable"),
    a2a_errors.UnsupportedOperationError: (
        ProviderErrorKind.BAD_REQUEST,
        "operation not supported by the remote agent",
    ),
    a2a_errors.ContentTypeNotSupportedError: (
        ProviderErrorKind.BAD_REQUEST,
        "content type not supported",
    ),
    a2a_errors.InvalidParamsError: (ProviderErrorKind.BAD_REQUEST, "invalid parameters"),
    a2a_errors.InvalidRequestError: (ProviderErrorKind.BAD_REQUEST, "invalid request"),
    a2a_errors.JSONParseError: (ProviderErrorKind.BAD_REQUEST, "invalid JSON"),
    a2a_errors.InvalidAgentResponseError: (ProviderErrorKind.SERVER, "invalid agent response"),
    a2a_errors.InternalError: (ProviderErrorKind.SERVER, "remote agent internal error"),
    a2a_errors.PushNotificationNotSupportedError: (
        ProviderErrorKind.BAD_REQUEST,
        "push notifications not supported",
    ),
    a2a_errors.ExtendedAgentCardNotConfiguredError: (
        ProviderErrorKind.BAD_REQUEST,
        "extended agent card not configured",
    ),
    a2a_errors.ExtensionSupportRequiredError: (
        ProviderErrorKind.BAD_REQUEST,
        "extension support required",
    ),
}


class A2AAgentError(ProviderError):
    """A call to a remote A2A agent failed.

    `kind` follows `ProviderErrorKind`: `connection` (the agent is down or the connection
    broke, also mid-stream), `timeout`, `auth` (HTTP 401 / 403), `rate_limit` (429), `server`
    (5xx, internal errors), `bad_request` (protocol errors such as a version mismatch or an
    unknown method), `unknown` (a remote task that failed, was rejected or cancelled).

    Attributes:
        code: The JSON-RPC error code, when the remote answered with one (e.g.
            `VERSION_NOT_SUPPORTED`, -32009; -32601 for an unknown method).
        url: The remote agent's URL.
        task_id: The remote task concerned, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ProviderErrorKind | str = ProviderErrorKind.UNKNOWN,
        status: int | None = None,
        code: int | None = None,
        url: str | None = None,
        task_id: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(
            message,
            kind=kind,
            status=status,
            retry_after_s=retry_after_s,
            provider="a2a",
            model=url,
        )
        self.code = code
        self.url = url
        self.task_id = task_id

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data (adds `code` and `task_id` to `ProviderError`'s)."""
        return {**super().to_dict(), "code": self.code, "task_id": self.task_id}


def _status_kind(status: int) -> ProviderErrorKind:
    if status in (401, 403):
        return ProviderErrorKind.AUTH
    if status == 429:
        return ProviderErrorKind.RATE_LIMIT
    if status in (502, 503, 504):
        return ProviderErrorKind.OVERLOADED if status == 503 else ProviderErrorKind.SERVER
    if status >= 500:
        return ProviderErrorKind.SERVER
    if status in (408,):
        return ProviderErrorKind.TIMEOUT
    return ProviderErrorKind.BAD_REQUEST


def map_error(exc: BaseException, url: str) -> A2AAgentError:
    """The `A2AAgentError` for an exception raised by a2a-sdk or httpx talking to `url`."""
    if isinstance(exc, A2AAgentError):
        return exc
    cause = exc.__cause__
    if isinstance(exc, httpx.HTTPError):
        cause, exc = exc, exc
    if isinstance(exc, a2a_errors.A2AError) and type(exc) in _KNOWN:
        kind, what = _KNOWN[type(exc)]
        code = a2a_errors.JSON_RPC_ERROR_CODE_MAP.get(type(exc))
        return A2AAgentError(
            f"{what} ({code}) at {url}: {exc.message}", kind=kind, code=code, url=url
        )
    if isinstance(exc, A2AClientTimeoutError) or isinstance(cause, httpx.TimeoutException):
        return A2AAgentError(
            f"remote agent at {url} timed out", kind=ProviderErrorKind.TIMEOUT, url=url
        )
    if isinstance(cause, httpx.HTTPStatusError):
        response = cause.response
        status = response.status_code
        return A2AAgentError(
            f"remote agent at {url} answered HTTP {status}: {_body(response)}",
            kind=_status_kind(status),
            status=status,
            url=url,
            retry_after_s=parse_retry_after(response.headers),
        )
    if isinstance(exc, AgentCardResolutionError) and exc.status_code is not None:
        return A2AAgentError(
            f"agent card of {url} could not be read (HTTP {exc.status_code})",
            kind=_status_kind(exc.status_code),
            status=exc.status_code,
            url=url,
        )
    if isinstance(cause, httpx.RequestError):
        return A2AAgentError(
            f"cannot reach remote agent at {url}: {type(cause).__name__}: {cause}",
            kind=ProviderErrorKind.CONNECTION,
            url=url,
        )
    if isinstance(exc, A2AClientError | a2a_errors.A2AError):
        message = getattr(exc, "message", "") or str(exc)
        return A2AAgentError(f"remote agent at {url}: {message}", url=url)
    if isinstance(exc, json.JSONDecodeError | ValueError):
        return A2AAgentError(
            f"remote agent at {url} sent an invalid response: {exc}",
            kind=ProviderErrorKind.BAD_REQUEST,
            url=url,
        )
    return A2AAgentError(f"remote agent at {url}: {type(exc).__name__}: {exc}", url=url)


def _body(response: httpx.Response) -> str:
    try:
        text = response.text
    except httpx.ResponseNotRead:
        return response.reason_phrase
    text = " ".join(text.split())
    return (text[:200] + "...") if len(text) > 200 else text or response.reason_phrase


@contextmanager
def mapped_errors(url: str) -> Iterator[None]:
    """Re-raise any failure of the block as an `A2AAgentError` for `url`."""
    try:
        yield
    except A2AAgentError:
        raise
    except (A2AClientError, a2a_errors.A2AError, httpx.HTTPError, ValueError) as exc:
        raise map_error(exc, url) from exc
