"""`PIIRedaction`: mask personal data and secrets in tool results and final answers."""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from spine_core import Middleware, Role, StepContext, TextPart, ToolContext, tool_output_text

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


def _entropy(text: str) -> float:
    """Shannon entropy of `text`, bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _aws_secret_valid(text: str) -> bool:
    """A standalone 40-character AWS secret access key shape (base64 alphabet) that looks
    random: upper case, lower case and digits, not a hex digest (git SHA-1s are 40 hex
    characters), and at least 4.2 bits of entropy per character (random base64 scores about
    5; a 40-letter identifier scores under 4)."""
    if re.fullmatch(r"[0-9a-fA-F]{40}", text):
        return False
    classes = (r"[A-Z]", r"[a-z]", r"[0-9]")
    return all(re.search(c, text) for c in classes) and _entropy(text) >= 4.2


def _ssn_valid(text: str) -> bool:
    """SSA rules for issued numbers: area not 000, 666 or 900-999; group not 00; serial
    not 0000 (SSA, "Social Security Number Randomization", 2011)."""
    area, group, serial = re.split(r"[- ]", text)
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_VERSION_BEFORE = re.compile(
    r"(?:\bv|\bversions?\s*:?\s*|\bver\.?\s*|\brelease[ds]?\s*|\bbuild\s*|\bupgraded? to\s*"
    r"|(?:==|>=|<=|~=|!=|\^|~)\s*|[A-Za-z0-9_-]@)$",
    re.IGNORECASE,
)
_VERSION_AFTER = re.compile(r"^(?:[-+~][0-9A-Za-z]|\.\*)")
_IP_BEFORE = re.compile(r"\b(?:ip|ipv4|addr|address|host|server|client|peer)\b\W{0,3}$", re.I)


def _ipv4_span_valid(text: str, start: int, end: int) -> bool:
    """Whether the dotted quad at `text[start:end]` is an address rather than a version
    ("v1.2.3.4", "version 1.2.3.4", "pkg==1.2.3.4", "pkg@1.2.3.4", "1.2.3.4-rc1"): an
    address-like word just before it ("IP", "host", "server") always means an address."""
    before = text[max(0, start - 40) : start]
    if _IP_BEFORE.search(before):
        return True
    return not (_VERSION_BEFORE.search(before) or _VERSION_AFTER.match(text[end : end + 2]))


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_PATTERNS: dict[str, tuple[re.Pattern[str], Callable[[str], bool] | None]] = {
    "aws_secret": (
        re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
        _aws_secret_valid,
    ),
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
    "ssn": (re.compile(r"(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])"), _ssn_valid),
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
"""The kinds (entities) `redact` knows, in the order they are applied."""


def redact(text: str, kinds: Iterable[str] = PII_KINDS) -> str:
    """Replace each match of `kinds` in `text` with "[REDACTED_<KIND>]" (e.g.
    "[REDACTED_EMAIL]").

    Card numbers must pass the Luhn check, IBANs the mod-97 check and SSNs the SSA's rules
    for issued numbers, so order numbers and random digit runs are left alone. A dotted quad
    read as a version ("v1.2.3.4", "version 1.2.3.4", "pkg==1.2.3.4", "1.2.3.4-rc1") is
    not an IPv4 address. Standalone AWS secret access keys are recognised by shape and
    randomness (see `_aws_secret_valid`); a secret too regular to tell from a word is missed.

    Raises:
        KeyError: an unknown kind.
    """
    for kind in kinds:
        pattern, check = _PATTERNS[kind]
        label = f"[REDACTED_{kind.upper()}]"

        def replace(
            match: re.Match[str],
            check: Callable[[str], bool] | None = check,
            label: str = label,
            kind: str = kind,
            source: str = text,
        ) -> str:
            if kind == "ipv4" and not _ipv4_span_valid(source, match.start(), match.end()):
                return match.group(0)
            return label if check is None or check(match.group(0)) else match.group(0)

        text = pattern.sub(replace, text)
    return text


class PIIRedaction(Middleware):
    """Redact PII from tool outputs (and so from traces) and the final answer.

    Masks e-mail addresses, phone numbers, payment card numbers (Luhn-checked), US Social
    Security numbers (SSA-rule-checked), IBANs (mod-97-checked), IPv4 / IPv6 addresses
    (version strings such as "v1.2.3.4" are left alone), API-key shapes (OpenAI / Anthropic
    `sk-`, AWS access key ids `AKIA`, GitHub `ghp_`, Slack `xox*-`, Google `AIza`) and AWS
    secret access keys as "[REDACTED_EMAIL]" and so on. Text parts of multimodal messages
    are redacted like plain content. The patterns are heuristics, measured on the labelled
    samples in `tests/middleware/test_pii_corpus.py`; they are not a data-loss-prevention
    system.

    Order matters: redacting in `after_tool` happens before the kernel records the tool
    result in the trace and the history, so secrets never reach the trace, the stored state
    or the model. Final answers (responses without tool calls) are redacted in `after_model`,
    before they are stored. With `redact_inputs`, the user messages sent to the model are
    redacted too (the stored history keeps the original).

    Args:
        entities: Which kinds to mask (default all, see `PII_KINDS`): "aws_secret",
            "api_key", "email", "iban", "card", "ssn", "ipv6", "ipv4", "phone".
        redact_tool_output: Redact tool results.
        redact_final_answer: Redact final answers.
        redact_inputs: Redact user messages in what is sent to the model.

    Raises:
        ValueError: an unknown entity.
    """

    def __init__(
        self,
        entities: Iterable[str] | None = None,
        *,
        redact_tool_output: bool = True,
        redact_final_answer: bool = True,
        redact_inputs: bool = False,
    ) -> None:
        chosen = tuple(PII_KINDS if entities is None else entities)
        unknown = set(chosen) - set(PII_KINDS)
        if unknown:
            raise ValueError(f"unknown PII entities {sorted(unknown)}; known: {list(PII_KINDS)}")
        self.entities = tuple(k for k in PII_KINDS if k in chosen)
        self.redact_tool_output = redact_tool_output
        self.redact_final_answer = redact_final_answer
        self.redact_inputs = redact_inputs

    def redact(self, text: str) -> str:
        """`text` with this middleware's entities masked."""
        return redact(text, self.entities)

    async def before_model(self, ctx: StepContext[Any]) -> None:
        if not self.redact_inputs:
            return
        messages = []
        for message in ctx.messages:
            if message.role is Role.USER:
                message = message.model_copy(
                    update={
                        "content": None
                        if message.content is None
                        else self.redact(message.content),
                        "parts": None
                        if message.parts is None
                        else [
                            p.model_copy(update={"text": self.redact(p.text)})
                            if isinstance(p, TextPart)
                            else p
                            for p in message.parts
                        ],
                    }
                )
            messages.append(message)
        ctx.messages = messages  # a new list: the stored history keeps the original

    async def after_tool(self, ctx: ToolContext[Any]) -> None:
        if not self.redact_tool_output or ctx.result is None:
            return
        text = tool_output_text(ctx.result)
        redacted = self.redact(text)
        if redacted != text:  # else keep the result as the tool returned it
            ctx.result = redacted

    async def after_model(self, ctx: StepContext[Any]) -> None:
        if not self.redact_final_answer or ctx.response is None:
            return
        message = ctx.response.message
        if message.tool_calls:
            return
        if message.content:
            message.content = self.redact(message.content)
        if message.parts:
            message.parts = [
                p.model_copy(update={"text": self.redact(p.text)}) if isinstance(p, TextPart) else p
                for p in message.parts
            ]
