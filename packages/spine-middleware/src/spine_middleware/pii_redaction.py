"""`PIIRedaction`: mask personal data and secrets in tool results and final answers."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence

from spine_core import Middleware, ModelResponse, Role, StepContext, ToolContext

__all__ = ["PII_KINDS", "PIIRedaction", "iban_valid", "luhn_valid", "redact"]


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment card numbers (ISO/IEC 7812-1, Annex B)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """The IBAN check digits (ISO 13616-1; ISO 7064 MOD 97-10): move the first four characters
    to the end, map letters to 10..35, and the number mod 97 must be 1."""
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ipv6_valid(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _card_valid(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_PATTERNS: dict[str, tuple[re.Pattern[str], Callable[[str], bool] | None]] = {
    "api_key": (
        re.compile(
            r"\b(?:sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}"
            r"|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})"
        ),
        None,
    ),
    "email": (
        re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
        None,
    ),
    "iban": (
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
        iban_valid,
    ),
    "card": (re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), _card_valid),
    "ipv6": (
        re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"),
        _ipv6_valid,
    ),
    "ipv4": (re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d.])"), None),
    "phone": (
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}"
            r"|(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4})(?![\w])"
        ),
        None,
    ),
}
PII_KINDS = tuple(_PATTERNS)
"""The kinds `redact` knows, in the order they are applied."""


def redact(text: str, kinds: Sequence[str] = PII_KINDS) -> str:
    """Replace each match of `kinds` in `text` with "[REDACTED:<KIND>]".

    Card numbers must pass the Luhn check and IBANs the mod-97 check, so order numbers and
    random digit runs are left alone.

    Raises:
        KeyError: an unknown kind.
    """
    for kind in kinds:
        pattern, check = _PATTERNS[kind]
        label = f"[REDACTED:{kind.upper()}]"

        def replace(
            match: re.Match[str], check: Callable[[str], bool] | None = check, label: str = label
        ) -> str:
            return label if check is None or check(match.group(0)) else match.group(0)

        text = pattern.sub(replace, text)
    return text


class PIIRedaction(Middleware):
    """Mask e-mail addresses, phone numbers, payment card numbers (Luhn-checked), IBANs
    (mod-97-checked), IPv4 / IPv6 addresses and API-key shapes (OpenAI / Anthropic `sk-`, AWS
    `AKIA`, GitHub `ghp_`, Slack `xox*-`, Google `AIza`).

    Tool results are redacted in `after_tool`, before they reach the trace, the history and
    the model; final answers in `after_model`, before they are stored. With `inputs`, the
    user messages sent to the model are redacted too (the stored history keeps the original).

    Args:
        kinds: Which kinds to mask (default all, see `PII_KINDS`).
        tool_results: Redact tool results.
        answers: Redact final answers.
        inputs: Redact user messages in what is sent to the model.

    Raises:
        ValueError: an unknown kind.
    """

    def __init__(
        self,
        *,
        kinds: Sequence[str] | None = None,
        tool_results: bool = True,
        answers: bool = True,
        inputs: bool = False,
    ) -> None:
        chosen = tuple(PII_KINDS if kinds is None else kinds)
        unknown = set(chosen) - set(PII_KINDS)
        if unknown:
            raise ValueError(f"unknown PII kinds {sorted(unknown)}; known: {list(PII_KINDS)}")
        self.kinds = tuple(k for k in PII_KINDS if k in chosen)
        self.tool_results = tool_results
        self.answers = answers
        self.inputs = inputs

    async def before_model(self, ctx: StepContext) -> ModelResponse | None:
        if self.inputs:
            ctx.messages = [
                m.model_copy(update={"content": redact(m.content, self.kinds)})
                if m.role is Role.USER
                else m
                for m in ctx.messages
            ]
        return None

    async def after_tool(self, ctx: ToolContext, result: str) -> str | None:
        return redact(result, self.kinds) if self.tool_results else None

    async def after_model(self, ctx: StepContext, response: ModelResponse) -> ModelResponse | None:
        message = response.message
        if not self.answers or message.tool_calls:
            return None
        cleaned = redact(message.content, self.kinds)
        if cleaned == message.content:
            return None
        return response.model_copy(
            update={"message": message.model_copy(update={"content": cleaned})}
        )
