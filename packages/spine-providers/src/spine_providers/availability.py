"""`availability_check`: can this provider be used at all, without a model call?

`health_check()` makes a real (if tiny) model call: it costs tokens, and after a quota ran out
it fails for the wrong reason. `availability_check()` is the cheap question asked before a
run or after waiting out a quota: is the program installed, is a key configured, is the SDK
importable. It never sends a prompt and never opens a network connection.

Providers may define `async availability_check() -> Availability` themselves (the Claude Code
and Claude Agent SDK providers do); `availability_check(provider)` calls it, and for the
SDK-backed API providers (`BaseProvider`) checks the API key and the SDK import.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from spine_core.errors import ProviderError
from spine_core.provider import provider_name

__all__ = ["Availability", "availability_check"]

# The SDK module behind each `spine-providers[extra]` extra an API provider names.
_SDKS = {"anthropic": "anthropic", "openai": "openai", "google": "google.genai"}


@dataclass(frozen=True, slots=True)
class Availability:
    """The answer of an availability check: `ok` and why (truthy when `ok`).

    Attributes:
        ok: The provider can be called.
        reason: One line: what was checked, or what is missing and how to fix it.
    """

    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


async def availability_check(provider: Any) -> Availability:
    """Whether `provider` can be used, without a model call or any network traffic.

    Uses the provider's own `availability_check()` when it has one (a bool result gets a
    generic reason). For SDK-backed API providers: the API key must be configured and the
    SDK importable. Other providers are reported available, with a reason saying nothing
    was checked.

    Returns:
        An `Availability` (truthy when usable).
    """
    own = getattr(provider, "availability_check", None)
    name = provider_name(provider)
    if callable(own):
        answer = await own()
        if isinstance(answer, Availability):
            return answer
        return Availability(bool(answer), f"{name}: its availability_check() said {answer!r}")
    api_key = getattr(provider, "api_key", None)
    if callable(api_key) and hasattr(provider, "env_vars"):
        try:
            api_key()
        except ProviderError as exc:
            return Availability(False, f"{name}: {exc.message}")
        extra = str(getattr(provider, "extra", ""))
        module = _SDKS.get(extra)
        if module is not None and not _importable(module):
            return Availability(
                False,
                f"{name}: the {module} SDK is not installed; install it with: "
                f'pip install "spine-providers[{extra}]"',
            )
        return Availability(True, f"{name}: API key configured and SDK installed")
    return Availability(True, f"{name}: no availability check defined; assumed available")


def _importable(module: str) -> bool:
    """Whether `module` can be imported (found on the path; nothing is imported but its
    parent packages)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False
