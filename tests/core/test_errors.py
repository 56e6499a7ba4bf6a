"""The provider error taxonomy and Retry-After parsing."""

from __future__ import annotations

import email.utils
import time

import pytest

from spine_core import ProviderError, ProviderErrorKind, parse_retry_after

RETRYABLE = {"rate_limit", "timeout", "connection", "server", "overloaded"}


@pytest.mark.parametrize("kind", list(ProviderErrorKind))
def test_retryable_defaults_follow_the_kind(kind: ProviderErrorKind) -> None:
    assert ProviderError("x", kind=kind).retryable is (kind.value in RETRYABLE)


def test_explicit_retryable_overrides_the_kind_default() -> None:
    assert ProviderError("x", kind="bad_request", retryable=True).retryable is True
    assert ProviderError("x", kind="server", retryable=False).retryable is False


def test_unknown_kind_string_is_rejected() -> None:
    with pytest.raises(ValueError):
        ProviderError("x", kind="teapot")


def test_str_and_dict_carry_kind_status_provider_and_model() -> None:
    error = ProviderError(
        "slow down",
        kind="rate_limit",
        status=429,
        retry_after_s=2.0,
        provider="openai",
        model="gpt",
    )

    assert str(error) == "rate_limit HTTP 429 from openai:gpt: slow down"
    assert error.to_dict() == {
        "type": "ProviderError",
        "message": "slow down",
        "kind": "rate_limit",
        "status": 429,
        "retryable": True,
        "retry_after_s": 2.0,
        "provider": "openai",
        "model": "gpt",
    }


def test_retry_after_seconds_header() -> None:
    assert parse_retry_after({"Retry-After": "7"}) == 7.0


def test_retry_after_ms_header_wins_over_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5


def test_retry_after_http_date_is_seconds_from_now() -> None:
    when = email.utils.formatdate(time.time() + 60, usegmt=True)

    waited = parse_retry_after({"Retry-After": when})

    assert waited is not None and 55 <= waited <= 60


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_garbage_retry_after_header_is_ignored() -> None:
    assert parse_retry_after({"Retry-After": "soon"}) is None


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        ("Rate limit reached. Please try again in 2.5s.", 2.5),
        ("Please try again in 450ms", 0.45),
        ('{"@type": "RetryInfo", "retryDelay": "3s"}', 3.0),
        ("retry after 12 seconds", 12.0),
    ],
)
def test_retry_after_phrases_in_the_error_body(body: str, seconds: float) -> None:
    assert parse_retry_after(body=body) == pytest.approx(seconds)


def test_header_takes_precedence_over_body() -> None:
    assert parse_retry_after({"retry-after": "4"}, "try again in 20s") == 4.0


def test_nothing_to_go_on_is_none() -> None:
    assert parse_retry_after({}, "internal error") is None
    assert parse_retry_after() is None
