"""Map SDK exceptions (anthropic, openai, google-genai, httpx2) into `ProviderError`.

The mapping reads what every SDK exposes instead of importing SDK classes, so it costs no
import: the HTTP status (`status_code` on anthropic/openai, `code` on google-genai), the
exception's class names (`APITimeoutError`, `APIConnectionError`, httpx2 transport errors,
`JSONDecodeError`) and the error body. `retry_after_s` comes from `retry-after-ms` /
`retry-after` headers, then from the body (`spine_core.errors.parse_retry_after`).
"""

from __future__ import annotations

import re
from typing import Any

from spine_core.errors import ProviderError, ProviderErrorKind, parse_retry_after

__all__ = ["looks_like_html", "to_provider_error"]

_TIMEOUT_CLASSES = frozenset(
    {
        "APITimeoutError",
        "TimeoutException",
        "ReadTimeout",
        "ConnectTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "TimeoutError",
    }
)
_CONNECTION_CLASSES = frozenset(
    {
        "APIConnectionError",
        "TransportError",
        "NetworkError",
        "ConnectError",
        "ReadError",
        "WriteError",
        "RemoteProtocolError",
        "ProtocolError",
        "ConnectionError",
        "IncompleteRead",
        "ServerDisconnectedError",
        "ClientConnectionError",
    }
)
_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|context window|prompt is too long|maximum context|too many tokens"
    r"|input token count|exceeds the maximum number of tokens|reduce the length",
    re.IGNORECASE,
)
_CONTENT_FILTER = re.compile(r"content[_ ]filter|content[_ ]policy|responsibleai|safety", re.I)
_OVERLOADED = re.compile(r"overloaded", re.IGNORECASE)
_AUTH = re.compile(
    # Google's ErrorInfo reasons (https://cloud.google.com/apis/design/errors#error_info), e.g.
    # a bad Gemini key: HTTP 400, status INVALID_ARGUMENT, reason API_KEY_INVALID; and the
    # wording OpenAI-compatible servers use when they answer a bad key with a 400.
    r"\bAPI_KEY_[A-Z_]+\b|\bACCESS_TOKEN_[A-Z_]+\b|\bUNAUTHENTICATED\b|\bPERMISSION_DENIED\b"
    r"|api key not valid|invalid[_ ]api[_ ]key|incorrect api key",
    re.IGNORECASE,
)
_BAD_BODY_CLASSES = frozenset({"JSONDecodeError", "UnknownApiResponseError"})
"""A 200 whose body could not be decoded: `json.JSONDecodeError` (anthropic, openai, genai),
google-genai's `UnknownApiResponseError` (a stream line that is not JSON)."""


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


def _body_text(exc: BaseException) -> str:
    parts = [str(exc)]
    for attr in ("body", "details"):
        value = getattr(exc, attr, None)
        if value is not None:
            parts.append(str(value))
    return " ".join(parts)


def _headers(exc: BaseException) -> dict[str, str]:
    response: Any = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return {}
    try:
        return {str(k): str(v) for k, v in headers.items()}
    except (AttributeError, TypeError):
        return {}


def _message(exc: BaseException) -> str:
    if type(exc).__name__ == "JSONDecodeError":
        doc = str(getattr(exc, "doc", ""))
        if looks_like_html(doc):
            return f"the API answered with an HTML page instead of JSON: {doc[:200]!r}"
        return (
            f"the API's response body is not valid JSON ({exc}); it was cut off or garbled "
            f"on the way: {doc[:200]!r}"
        )
    # The API's own words: anthropic's `api_message` (error.message of the body), openai's
    # `body` (the body's inner error object), else the SDK's message.
    api_message = getattr(exc, "api_message", None)
    if isinstance(api_message, str) and api_message:
        return api_message
    body: Any = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        inner: dict[str, Any] = error if isinstance(error, dict) else body
        text = inner.get("message")
        if isinstance(text, str) and text:
            return text
    message = getattr(exc, "message", None)
    return str(message) if isinstance(message, str) and message else str(exc) or type(exc).__name__


def looks_like_html(text: str) -> bool:
    """Whether a response body is an HTML page (a proxy's or gateway's error page)."""
    return text.lstrip().startswith("<")  # no JSON value starts with "<"


def _kind(exc: BaseException, status: int | None, text: str) -> ProviderErrorKind:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if status is None:
        if names & _BAD_BODY_CLASSES:
            # An HTML page is the server's (or its proxy's) fault; anything else is a body cut
            # off or garbled in transit, like a stream cut mid-way. Both are worth a retry.
            body = getattr(exc, "doc", None) or text.partition("Raw response:")[2]
            return (
                ProviderErrorKind.SERVER
                if looks_like_html(str(body))
                else ProviderErrorKind.CONNECTION
            )
        if names & _TIMEOUT_CLASSES:
            return ProviderErrorKind.TIMEOUT
        if names & _CONNECTION_CLASSES:
            return ProviderErrorKind.CONNECTION
        return ProviderErrorKind.UNKNOWN
    if status == 429:
        return ProviderErrorKind.RATE_LIMIT
    if status in (401, 403):
        return ProviderErrorKind.AUTH
    if status == 408:
        return ProviderErrorKind.TIMEOUT
    if status == 529 or "OverloadedError" in names or _OVERLOADED.search(text):
        return ProviderErrorKind.OVERLOADED
    if status >= 500:
        return ProviderErrorKind.SERVER
    if _AUTH.search(text):
        return ProviderErrorKind.AUTH
    if status == 413 or _CONTEXT_LENGTH.search(text):
        return ProviderErrorKind.CONTEXT_LENGTH
    if _CONTENT_FILTER.search(text):
        return ProviderErrorKind.CONTENT_FILTER
    return ProviderErrorKind.BAD_REQUEST


def to_provider_error(exc: BaseException, *, provider: str, model: str) -> ProviderError:
    """The `ProviderError` for an SDK or transport exception.

    Kinds: 429 rate_limit; 401/403 auth, and a 4xx naming a bad credential (Google's
    `API_KEY_INVALID` reason, "invalid api key"); 408 and timeouts timeout; transport failures
    connection; 529 or an "overloaded" error overloaded; other 5xx server; 413 or a
    context-window message context_length; a content-policy message content_filter; other 4xx
    bad_request. A response body that does not decode (a 200 with truncated or malformed
    JSON) is connection, an HTML page in its place server: both retryable. Anything else is
    unknown. The original exception is kept as `__cause__`.
    """
    if isinstance(exc, ProviderError):
        return exc
    status = _status(exc)
    text = _body_text(exc)
    kind = _kind(exc, status, text)
    error = ProviderError(
        _message(exc),
        kind=kind,
        status=status,
        retry_after_s=parse_retry_after(_headers(exc), text),
        provider=provider,
        model=model,
    )
    error.__cause__ = exc
    return error
