"""Rate-limit and quota detection from error text (`spine_providers.quota`), Marianne's
classifier in Spine's taxonomy."""

from __future__ import annotations

from datetime import datetime

import pytest

from spine_core import ProviderError
from spine_providers.quota import QuotaExhaustedError, classify_error_text, provider_error

NOW = datetime(2026, 12, 1, 10, 0, 0).timestamp()  # local time, 10:00


@pytest.mark.parametrize(
    ("text", "reset_in_s"),
    [
        ("Claude AI usage limit reached|1796135400", 1796135400 - NOW),
        ("You've hit your session limit · resets 3pm", 5 * 3600),
        ("Usage limit reached · resets at 9:30am", 23.5 * 3600),  # 9:30 has passed: tomorrow
        ("You've hit your monthly spend limit. See Usage in Settings", None),
        ("Credit balance is too low to access the Anthropic API", None),
        (
            '{"error": {"code": "insufficient_quota", "message": "You exceeded your quota"}}',
            None,
        ),
        ("usage limit reached, resets in 2 hours", 7200),
    ],
)
def test_quota_messages_are_quotas_with_their_reset(text: str, reset_in_s: float | None) -> None:
    signal = classify_error_text(text, now=NOW)
    assert signal is not None and signal.quota and signal.kind.value == "rate_limit"
    if reset_in_s is None:
        assert signal.resets_at is None and signal.retry_after_s is None
    else:
        assert signal.retry_after_s == pytest.approx(reset_in_s, abs=1)


@pytest.mark.parametrize(
    ("text", "status", "kind", "wait"),
    [
        ("API Error: Request rejected (429) · rate limit exceeded", None, "rate_limit", None),
        ("Too many requests, please retry after 30 seconds", None, "rate_limit", 30.0),
        ("rate_limit_error: Please try again in 2.5s", None, "rate_limit", 2.5),
        ("Invalid API key · Fix external API key", None, "auth", None),
        ("OAuth token has expired. Please run /login", None, "auth", None),
        ("something went wrong", 401, "auth", None),
        ("Overloaded", 529, "overloaded", None),
        ("overloaded_error: Overloaded", None, "overloaded", None),
        ("prompt is too long: 210000 tokens > 200000 maximum", 400, "context_length", None),
        ("upstream connect error: ECONNREFUSED 127.0.0.1:9", None, "connection", None),
        ("Internal server error", None, "server", None),
    ],
)
def test_other_errors_get_their_kind_and_wait(
    text: str, status: int | None, kind: str, wait: float | None
) -> None:
    signal = classify_error_text(text, status=status, now=NOW)
    assert signal is not None and not signal.quota
    assert signal.kind.value == kind and signal.retry_after_s == wait


def test_unrecognised_text_is_none_and_provider_error_uses_the_default() -> None:
    assert classify_error_text("the turn produced no answer") is None
    error = provider_error("the turn produced no answer", provider="claude-code")
    assert type(error) is ProviderError and error.kind.value == "unknown"


def test_provider_error_makes_a_quota_error_only_for_quotas() -> None:
    quota = provider_error("Usage limit reached|1796135400", provider="claude-code", model="m")
    assert isinstance(quota, QuotaExhaustedError) and quota.to_dict()["quota"] is True
    assert quota.resets_at == 1796135400 and quota.retryable
    limited = provider_error("429 rate limit", retry_after_s=4.0)
    assert type(limited) is ProviderError and limited.retryable and limited.retry_after_s == 4.0
