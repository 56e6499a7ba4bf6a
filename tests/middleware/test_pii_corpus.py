"""PIIRedaction on a fixed labelled sample set: how much PII it masks, how much benign text it
touches. The figures are printed (run with `-s`) and pinned, so a regression in either
direction fails.

Each PII sample holds exactly one secret (its `kind`), which must be replaced by that kind's
label and must not survive anywhere in the text. A benign sample must come back unchanged.
"""

from __future__ import annotations

import pytest

from spine_core import Agent, Message, ScriptedProvider, TextPart
from spine_middleware import PIIRedaction

PII: list[tuple[str, str, str]] = [
    # (kind, text, the secret)
    ("email", "Contact me at jane.doe@example.com tomorrow.", "jane.doe@example.com"),
    ("email", "cc: ops+alerts@mail.example.co.uk", "ops+alerts@mail.example.co.uk"),
    ("phone", "Call +1 415 555 0132 after five.", "+1 415 555 0132"),
    ("phone", "Office: (212) 555-0199", "(212) 555-0199"),
    ("phone", "Mobile +44 20 7946 0958", "+44 20 7946 0958"),
    ("card", "Card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111"),
    ("card", "paid with 5500-0000-0000-0004", "5500-0000-0000-0004"),
    ("card", "amex 378282246310005 on file", "378282246310005"),
    ("ssn", "SSN: 123-45-6789", "123-45-6789"),
    ("ssn", "social security number 078 05 1120", "078 05 1120"),
    ("iban", "IBAN DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00"),
    ("iban", "wire to GB82WEST12345698765432", "GB82WEST12345698765432"),
    ("ipv4", "login from 203.0.113.7 failed", "203.0.113.7"),
    ("ipv4", "host=10.20.30.40 port=22", "10.20.30.40"),
    ("ipv6", "peer 2001:db8:85a3::8a2e:370:7334 connected", "2001:db8:85a3::8a2e:370:7334"),
    (
        "api_key",
        "OPENAI_API_KEY=sk-proj-AbCdEf0123456789GhIjKlMn",
        "sk-proj-AbCdEf0123456789GhIjKlMn",
    ),
    ("api_key", "key sk-ant-api03-xYz0123456789abcdefGHIJ", "sk-ant-api03-xYz0123456789abcdefGHIJ"),
    ("api_key", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    (
        "api_key",
        "token ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    ),
    ("api_key", "slack xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    (
        "api_key",
        "maps AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    ),
    (
        "aws_secret",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "aws_secret",
        "secret: 9dQz3Lk2Vb8Nw1Xr5Tp7Hs4Jm6Gf0Ca2Ye8Ru3Io",
        "9dQz3Lk2Vb8Nw1Xr5Tp7Hs4Jm6Gf0Ca2Ye8Ru3Io",
    ),
    ("email", "Reply-To: <billing@shop.example>", "billing@shop.example"),
    ("ssn", "applicant 219-09-9999 verified", "219-09-9999"),
]

BENIGN: list[str] = [
    "Upgrade to v1.2.3.4 for the fix.",
    "Released 2.0.1.3 on Monday.",
    "pip install foo==1.2.3.4",
    "Requires node >= 18.17.1.0",
    "Build 4.5.6.7-rc1 is out.",
    "version 10.0.19045.3803 of Windows",
    "Order #123-45-678 shipped.",
    "The meeting is at 10:30 in room 4B.",
    "Invoice 2024-000123 is due on 2026-02-01.",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 fixed it",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "Tracking number 1Z999AA10123456784",
    "Temperature rose 3.5 degrees to 21.4 C.",
    "Pi is about 3.14159265358979.",
    "The function getUserAccountSettingsForTenantValueXYZab returns a dict.",
    "Use the AWS region us-east-1 for this bucket.",
    "Call the support line and ask for Jane.",
    "Our office is at 221B Baker Street.",
    "ISBN 978-3-16-148410-0",
    "The ratio was 1:2:3 in the last test.",
    "See RFC 9110 section 10.2.3 for details.",
    "Totals: 1,234,567 users and 89 regions.",
    "Date 12/29/2026 and time 23:59:59",
    "Email the team through the contact form.",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
]


def _redacted(text: str) -> str:
    return PIIRedaction().redact(text)


def _pii_rate() -> tuple[int, list[str]]:
    misses = []
    for kind, text, secret in PII:
        out = _redacted(text)
        if secret in out or f"[REDACTED_{kind.upper()}]" not in out:
            misses.append(f"{kind}: {text!r} -> {out!r}")
    return len(PII) - len(misses), misses


def _benign_rate() -> tuple[int, list[str]]:
    flagged = [f"{t!r} -> {_redacted(t)!r}" for t in BENIGN if _redacted(t) != t]
    return len(flagged), flagged


def test_the_labelled_sets_are_large_enough() -> None:
    assert len(PII) >= 20 and len(BENIGN) >= 20
    assert {k for k, _, _ in PII} >= {"ssn", "aws_secret", "card", "email", "ipv4"}


def test_pii_samples_are_redacted() -> None:
    caught, misses = _pii_rate()
    print(f"\nPIIRedaction: {caught}/{len(PII)} PII samples redacted")
    assert caught == len(PII), misses


def test_benign_samples_are_left_alone() -> None:
    flagged, which = _benign_rate()
    print(f"\nPIIRedaction: {flagged}/{len(BENIGN)} benign samples changed")
    assert flagged == 0, which


@pytest.mark.anyio
@pytest.mark.parametrize(("kind", "text", "secret"), [p for p in PII if p[0] in ("card", "ssn")])
async def test_pii_in_a_multimodal_text_part_never_reaches_the_model(
    kind: str, text: str, secret: str
) -> None:
    provider = ScriptedProvider(["ok"])
    agent = Agent(provider, middleware=[PIIRedaction(redact_inputs=True)])
    parts = [TextPart(text=text), {"type": "image", "url": "https://example.com/y.png"}]
    await agent.run([Message.user_parts(parts)])
    seen = provider.prompts[0][-1]
    assert seen.parts is not None and secret not in seen.text
    assert all(secret not in getattr(p, "text", "") for p in seen.parts)
    assert f"[REDACTED_{kind.upper()}]" in seen.text
