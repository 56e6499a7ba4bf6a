"""Scorers on the answer text: `ExactMatch`, `Contains`, `Regex`."""

from __future__ import annotations

import re
from typing import Any, Literal

from spine_core import Result

from ..dataset import Case
from ..scoring import Score

__all__ = ["Contains", "ExactMatch", "Regex"]


def _reference(case: Case, value: Any, scorer: str) -> Any:
    if value is not None:
        return value
    if case.expected is None:
        raise ValueError(f"{scorer}: no value given and case '{case.id}' has no 'expected'")
    return case.expected


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ExactMatch:
    """The answer equals the expected text.

    Args:
        value: The expected answer; default the case's `expected`.
        case_sensitive: Compare case-sensitively (default True).
        strip: Ignore leading / trailing whitespace (default True).

    Raises (from `score`):
        ValueError: neither `value` nor the case's `expected` is set.
    """

    name = "exact_match"

    def __init__(
        self, value: str | None = None, *, case_sensitive: bool = True, strip: bool = True
    ) -> None:
        self.value = value
        self.case_sensitive = case_sensitive
        self.strip = strip

    def _norm(self, text: str) -> str:
        text = text.strip() if self.strip else text
        return text if self.case_sensitive else text.casefold()

    async def score(self, case: Case, result: Result, *, latency_s: float | None = None) -> Score:
        expected = str(_reference(case, self.value, self.name))
        answer = result.answer or ""
        ok = self._norm(answer) == self._norm(expected)
        reason = (
            "answer matches" if ok else f"expected {_short(expected)!r}, got {_short(answer)!r}"
        )
        return Score(name=self.name, value=float(ok), passed=ok, detail=reason)


class Contains:
    """The answer contains the expected substring(s).

    Args:
        values: A substring or a list of them; default the case's `expected` (text or list).
        mode: "all" (default): every substring must appear; "any": at least one.
        case_sensitive: Compare case-sensitively (default False).

    The value is the fraction of substrings found ("all") or 1 / 0 ("any").

    Raises:
        ValueError: `mode` is not "any" or "all"; (from `score`) no substrings to look for.
    """

    name = "contains"

    def __init__(
        self,
        values: str | list[str] | None = None,
        *,
        mode: Literal["any", "all"] = "all",
        case_sensitive: bool = False,
    ) -> None:
        if mode not in ("any", "all"):
            raise ValueError(f"contains: mode must be 'any' or 'all', got {mode!r}")
        self.values = values
        self.mode = mode
        self.case_sensitive = case_sensitive

    async def score(self, case: Case, result: Result, *, latency_s: float | None = None) -> Score:
        raw = _reference(case, self.values, self.name)
        needles = [str(v) for v in (raw if isinstance(raw, list) else [raw])]
        if not needles:
            raise ValueError("contains: the list of substrings is empty")
        answer = result.answer or ""
        haystack = answer if self.case_sensitive else answer.casefold()
        found = [n for n in needles if (n if self.case_sensitive else n.casefold()) in haystack]
        missing = [n for n in needles if n not in found]
        if self.mode == "any":
            ok = bool(found)
            value = float(ok)
        else:
            ok = not missing
            value = len(found) / len(needles)
        reason = f"missing {missing}" if missing else f"found all of {needles}"
        if self.mode == "any" and ok:
            reason = f"found {found}"
        elif self.mode == "any":
            reason = f"none of {needles} found"
        return Score(name=self.name, value=value, passed=ok, detail=reason)


class Regex:
    """The answer matches a regular expression (`re.search`).

    Args:
        pattern: Python `re` syntax; default the case's `expected`.
        flags: Letters of `re` flags: "i" (IGNORECASE), "m" (MULTILINE), "s" (DOTALL).
        full: Require the whole answer (stripped) to match (`re.fullmatch`).

    Raises:
        ValueError: an unknown flag letter or an invalid pattern.
    """

    name = "regex"
    _FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}

    def __init__(self, pattern: str | None = None, *, flags: str = "", full: bool = False) -> None:
        bad = set(flags) - set(self._FLAGS)
        if bad:
            raise ValueError(f"regex: unknown flag(s) {sorted(bad)}; use i, m, s")
        self.flags = 0
        for letter in flags:
            self.flags |= self._FLAGS[letter]
        self.pattern = pattern
        self.full = full
        if pattern is not None:
            self._compile(pattern)

    def _compile(self, pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern, self.flags)
        except re.error as exc:
            raise ValueError(f"regex: invalid pattern {pattern!r}: {exc}") from None

    async def score(self, case: Case, result: Result, *, latency_s: float | None = None) -> Score:
        compiled = self._compile(str(_reference(case, self.pattern, self.name)))
        answer = result.answer or ""
        text = answer.strip() if self.full else answer
        ok = bool(compiled.fullmatch(text) if self.full else compiled.search(text))
        verb = "matches" if ok else "does not match"
        return Score(
            name=self.name,
            value=float(ok),
            passed=ok,
            detail=f"answer {verb} /{compiled.pattern}/",
        )
