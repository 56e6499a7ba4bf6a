"""Rate-limit and quota detection from error text, for runtimes that report failures as prose.

An HTTP API says "429" in a status code; an agent runtime such as the Claude Code CLI often
says it in a sentence ("You've hit your session limit · resets 3pm", "Credit balance is too
low", "API Error: Request rejected (429)"). `classify_error_text` reads such text and returns
what it found: the error kind in Spine's taxonomy, whether it is a quota (a usage, spend or
credit limit that lasts until a reset, not a per-minute rate limit), and how long to wait.
`provider_error` turns the result into the `ProviderError` a provider raises;
`QuotaExhaustedError` is the `ProviderError` for a quota.

Patterns and their sources:

- Anthropic API error types (https://docs.claude.com/en/api/errors): `rate_limit_error`
  (429), `authentication_error` (401), `permission_error` (403), `overloaded_error` (529),
  `api_error` (500), `invalid_request_error` (400, "prompt is too long" for the context).
- Claude Code CLI 2.1 messages for subscription and spend limits: "Usage limit reached",
  "You've hit your session limit", "You've hit your monthly spend limit", "Out of usage
  credits", "Credit balance is too low", and the older "Claude AI usage limit
  reached|<unix time>" form, whose number is the reset time.
- OpenAI-style bodies: `insufficient_quota`, "You exceeded your current quota".
- Waits: `spine_core.errors.parse_retry_after` (retry-after phrases), plus "retry after N
  minutes", "resets in N hours" and "resets at 3pm" / "resets 15:30" (local time, the next
  such moment).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from spine_core.errors import ProviderError, ProviderErrorKind, parse_retry_after

__all__ = ["ErrorSignal", "QuotaExhaustedError", "classify_error_text", "provider_error"]


@dataclass(frozen=True, slots=True)
class ErrorSignal:
    """What an error text says.

    Attributes:
        kind: The failure kind in Spine's taxonomy.
        quota: True for a usage / spend / credit limit that holds until it resets (waiting
            seconds does not help; waiting until `resets_at` may).
        retry_after_s: Seconds to wait before trying again, when the text says (for a quota:
            until its reset), else None.
        resets_at: Unix time (seconds) the quota resets, when the text says.
    """

    kind: ProviderErrorKind
    quota: bool = False
    retry_after_s: float | None = None
    resets_at: float | None = None


class QuotaExhaustedError(ProviderError):
    """A usage, spend or credit quota is used up (kind `rate_limit`).

    Retryable only when the reset time is known (`retry_after_s` then counts the seconds to
    it); `resets_at` is that time as a Unix timestamp, or None.
    """

    def __init__(self, message: str, *, resets_at: float | None = None, **kwargs: object) -> None:
        wait = None if resets_at is None else max(resets_at - time.time(), 0.0)
        super().__init__(
            message,
            kind=ProviderErrorKind.RATE_LIMIT,
            retryable=wait is not None,
            retry_after_s=wait,
            **kwargs,  # type: ignore[arg-type]
        )
        self.resets_at = resets_at

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        data.update(type="QuotaExhaustedError", quota=True, resets_at=self.resets_at)
        return data


_QUOTA = re.compile(
    r"usage limit reached|you'?ve hit your [\w' ]*limit|spend limit|out of (?:usage )?credits"
    r"|credit balance is too low|insufficient_quota|exceeded your current quota"
    r"|quota (?:exceeded|exhausted)|billing_error",
    re.IGNORECASE,
)
_EPOCH = re.compile(r"usage limit reached\|(\d{9,11})", re.IGNORECASE)
_RESETS_IN = re.compile(
    r"(?:resets?|retry|try again)\s+(?:after|in)\s+(\d+(?:\.\d+)?)\s*"
    r"(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b",
    re.IGNORECASE,
)
_RESETS_AT = re.compile(
    r"resets?\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b(?!\s*(?:seconds?|minutes?|hours?))",
    re.IGNORECASE,
)
_AUTH = re.compile(
    r"authentication_error|authentication_failed|invalid (?:x-)?api[ -]?key|api key is invalid"
    r"|permission_error|oauth token (?:has )?expired|please run /login|not logged in"
    r"|\b401\b|\b403\b",
    re.IGNORECASE,
)
_RATE = re.compile(r"rate[ _-]?limit|too many requests|\b429\b", re.IGNORECASE)
_OVERLOADED = re.compile(r"overloaded|\b529\b", re.IGNORECASE)
_CONTEXT = re.compile(
    r"prompt is too long|context[ _-]?(?:length|window)|maximum context|too many tokens",
    re.IGNORECASE,
)
_SERVER = re.compile(r"\b50[0234]\b|internal server error|api_error", re.IGNORECASE)
_CONNECTION = re.compile(
    r"econnrefused|econnreset|enotfound|connection (?:refused|reset|error)|fetch failed"
    r"|socket hang up|unable to connect",
    re.IGNORECASE,
)
_BAD_REQUEST = re.compile(r"invalid_request_error|\b400\b|bad request", re.IGNORECASE)

_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def _wait_from_text(text: str, now: float) -> float | None:
    match = _RESETS_IN.search(text)
    if match:
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)[0].lower()]
    return parse_retry_after(body=text)


def _reset_time(text: str, now: float) -> float | None:
    """Unix time of the quota reset the text names, or None."""
    epoch = _EPOCH.search(text)
    if epoch:
        return float(epoch.group(1))
    wait = _RESETS_IN.search(text)
    if wait:
        return now + float(wait.group(1)) * _UNIT_SECONDS[wait.group(2)[0].lower()]
    at = _RESETS_AT.search(text)
    if at is None or (at.group(2) is None and at.group(3) is None):
        return None  # a bare number ("resets 3") is too vague to act on
    hour, minute = int(at.group(1)), int(at.group(2) or 0)
    meridiem = (at.group(3) or "").lower()
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    local = datetime.fromtimestamp(now)
    moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if moment.timestamp() <= now:
        moment += timedelta(days=1)
    return moment.timestamp()


def classify_error_text(
    text: str, *, status: int | None = None, now: float | None = None
) -> ErrorSignal | None:
    """Classify an error message (and its HTTP status, when known).

    Args:
        text: The error text (a CLI's stderr or result line, an API error body).
        status: The HTTP status that came with it, if any (it wins over the text for
            401/403/429/529/5xx/400).
        now: Unix time to count resets from (default: now).

    Returns:
        An `ErrorSignal`, or None when neither the status nor the text says what failed.
    """
    now = time.time() if now is None else now
    if _QUOTA.search(text):
        resets_at = _reset_time(text, now)
        wait = None if resets_at is None else max(resets_at - now, 0.0)
        return ErrorSignal(ProviderErrorKind.RATE_LIMIT, True, wait, resets_at)
    kind: ProviderErrorKind | None = None
    if status in (401, 403):
        kind = ProviderErrorKind.AUTH
    elif status == 429:
        kind = ProviderErrorKind.RATE_LIMIT
    elif status == 529:
        kind = ProviderErrorKind.OVERLOADED
    elif status is not None and status >= 500:
        kind = ProviderErrorKind.SERVER
    elif status == 413 or (status == 400 and _CONTEXT.search(text)):
        kind = ProviderErrorKind.CONTEXT_LENGTH
    elif status == 400:
        kind = ProviderErrorKind.BAD_REQUEST
    else:
        for pattern, found in (
            (_AUTH, ProviderErrorKind.AUTH),
            (_RATE, ProviderErrorKind.RATE_LIMIT),
            (_OVERLOADED, ProviderErrorKind.OVERLOADED),
            (_CONTEXT, ProviderErrorKind.CONTEXT_LENGTH),
            (_CONNECTION, ProviderErrorKind.CONNECTION),
            (_SERVER, ProviderErrorKind.SERVER),
            (_BAD_REQUEST, ProviderErrorKind.BAD_REQUEST),
        ):
            if pattern.search(text):
                kind = found
                break
    if kind is None:
        return None
    wait = _wait_from_text(text, now) if kind is ProviderErrorKind.RATE_LIMIT else None
    return ErrorSignal(kind, False, wait, None)


def provider_error(
    text: str,
    *,
    status: int | None = None,
    provider: str | None = None,
    model: str | None = None,
    default: ProviderErrorKind = ProviderErrorKind.UNKNOWN,
    retry_after_s: float | None = None,
) -> ProviderError:
    """The `ProviderError` for an error text: a `QuotaExhaustedError` for a quota, else a
    `ProviderError` of the classified kind (`default` when nothing matched).

    Args:
        text: The error text, used as the error's message.
        status: HTTP status, if known.
        provider: Provider scheme, for the error.
        model: Model name, for the error.
        default: Kind when the text and status say nothing.
        retry_after_s: A wait known from elsewhere (a header); wins over the text's.
    """
    signal = classify_error_text(text, status=status)
    if signal is not None and signal.quota:
        return QuotaExhaustedError(
            text, resets_at=signal.resets_at, status=status, provider=provider, model=model
        )
    kind = signal.kind if signal is not None else default
    wait = retry_after_s if retry_after_s is not None else (signal and signal.retry_after_s)
    return ProviderError(
        text, kind=kind, status=status, retry_after_s=wait or None, provider=provider, model=model
    )
