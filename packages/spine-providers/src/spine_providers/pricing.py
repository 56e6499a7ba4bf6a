"""Model prices and the cost of one call, in US dollars.

Prices are USD per million tokens, standard tier, for prompts up to each vendor's first
context tier (long prompts, batch, flex and priority tiers are billed differently). Sources,
as read on 2026-11-20:

- Anthropic: https://platform.claude.com/docs/en/about-claude/pricing (cache write = the
  5-minute write, 1.25x input; Claude Haiku 5.5 at its band for prompts up to 100k tokens)
- OpenAI: https://openai.com/api/pricing (cached input; OpenAI charges no cache writes; the
  "-pro" models have no cached-input discount)
- Google: https://ai.google.dev/gemini-api/docs/pricing (text/image/video input; context-cache
  reads, storage not included)

Prices change; pass `prices=` to a provider (or call `set_price`, or in a YAML spec give
`model: {name: ..., prices: {...}}`) to use your own. A model not in the table costs 0.0;
hosted providers then log one warning line per model (logger `spine_providers.pricing`),
because cost guards and budgets cannot count it. Local endpoints (Ollama, vLLM, LM Studio)
are free and do not warn.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from spine_core.messages import Usage

__all__ = [
    "PRICES",
    "Price",
    "UnpricedModelWarning",
    "cost_usd",
    "find_price",
    "set_price",
    "warn_unpriced",
]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens: uncached input, output (reasoning included), cache reads and
    cache writes; a cache rate left as None is the input rate."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def cost_usd(self, usage: Usage) -> float:
        """The USD cost of `usage`, whose `input_tokens` include cache reads and writes."""
        cache_read = self.input if self.cache_read is None else self.cache_read
        cache_write = self.input if self.cache_write is None else self.cache_write
        uncached = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
        total = (
            uncached * self.input
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
            + usage.output_tokens * self.output
        )
        return total / 1_000_000


PRICES: dict[str, Price] = {
    # Anthropic: Price(input, output, cache read, 5-minute cache write)
    "claude-fable-5-1": Price(10.0, 50.0, 0.25, 12.50),
    "claude-mythos-5-1": Price(10.0, 50.0, 0.25, 12.50),
    "claude-fable-5": Price(10.0, 50.0, 1.0, 12.50),
    "claude-mythos-5": Price(10.0, 50.0, 1.0, 12.50),
    "claude-opus-5-5": Price(4.0, 20.0, 0.20, 5.0),
    "claude-opus-5": Price(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-8": Price(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-7": Price(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-6": Price(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-5": Price(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-1": Price(15.0, 75.0, 1.50, 18.75),
    "claude-opus-4-0": Price(15.0, 75.0, 1.50, 18.75),
    "claude-opus-4": Price(15.0, 75.0, 1.50, 18.75),
    "claude-sonnet-5-5": Price(2.0, 10.0, 0.10, 2.50),
    "claude-sonnet-5": Price(2.0, 10.0, 0.20, 2.50),
    "claude-sonnet-4-6": Price(3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4-5": Price(3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4-0": Price(3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4": Price(3.0, 15.0, 0.30, 3.75),
    "claude-3-7-sonnet": Price(3.0, 15.0, 0.30, 3.75),
    "claude-haiku-5-5": Price(0.10, 0.50, 0.01, 0.125),
    "claude-haiku-4-5": Price(1.0, 5.0, 0.10, 1.25),
    "claude-3-5-haiku": Price(0.80, 4.0, 0.08, 1.0),
    "claude-3-opus": Price(15.0, 75.0, 1.50, 18.75),
    "claude-3-haiku": Price(0.25, 1.25, 0.03, 0.30),
    # OpenAI: Price(input, output, cached input)
    "gpt-5.5": Price(5.0, 30.0, 0.50),
    "gpt-5.5-pro": Price(30.0, 180.0, 30.0),
    "gpt-5.4": Price(2.50, 15.0, 0.25),
    "gpt-5.4-pro": Price(30.0, 180.0, 30.0),
    "gpt-5.4-mini": Price(0.75, 4.50, 0.075),
    "gpt-5.4-nano": Price(0.20, 1.25, 0.02),
    "gpt-5.1": Price(1.25, 10.0, 0.125),
    "gpt-5": Price(1.25, 10.0, 0.125),
    "gpt-5-mini": Price(0.25, 2.0, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "gpt-4.1": Price(2.0, 8.0, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-4o": Price(2.50, 10.0, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "o3": Price(2.0, 8.0, 0.50),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o4-mini": Price(1.10, 4.40, 0.275),
    # Google: Price(input, output, context-cache read)
    "gemini-3.5-flash": Price(1.50, 9.0, 0.15),
    "gemini-3.1-pro-preview": Price(2.0, 12.0, 0.20),
    "gemini-3.1-flash-lite": Price(0.25, 1.50, 0.025),
    "gemini-3.1-flash-lite-preview": Price(0.25, 1.50, 0.025),
    "gemini-3-flash-preview": Price(0.50, 3.0, 0.05),
    "gemini-3-pro-preview": Price(2.0, 12.0, 0.20),
    "gemini-2.5-pro": Price(1.25, 10.0, 0.125),
    "gemini-2.5-flash": Price(0.30, 2.50, 0.03),
    "gemini-2.5-flash-lite": Price(0.10, 0.40, 0.01),
    "gemini-2.0-flash": Price(0.10, 0.40, 0.025),
}
"""Built-in prices (USD per million tokens), keyed by model name without date suffix."""


def set_price(model: str, price: Price) -> None:
    """Set the process-wide price of `model` (a full name or a prefix such as "gpt-4o")."""
    PRICES[model] = price


def find_price(model: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """The price of `model`: an exact match, else its entry without a snapshot suffix.

    Snapshot suffixes are dates ("claude-haiku-4-5-20251001", "gpt-4o-2024-08-06"), "-latest",
    numbered versions ("gemini-2.0-flash-001") and dated previews
    ("gemini-2.5-pro-preview-06-05"); OpenRouter-style names ("openai/gpt-4o") drop their
    vendor. Any other suffix is a different model ("claude-opus-4-8" is not "claude-opus-4")
    and has no price unless listed. `overrides` is searched before the built-in table.
    """
    name = model.rsplit("/", 1)[-1]
    base = _SNAPSHOT.sub("", name)
    # OpenRouter spells Claude versions with dots ("claude-sonnet-4.5"); Anthropic with dashes.
    candidates = (name, base, name.replace(".", "-"), base.replace(".", "-"))
    for table in (overrides or {}, PRICES):
        for candidate in candidates:
            if candidate in table:
                return table[candidate]
    return None


_SNAPSHOT = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest|\d{3}|preview(-\d{2}-\d{2})?)$")


logger = logging.getLogger(__name__)
"""Where the unpriced-model line goes (`spine_providers.pricing`, level WARNING)."""

_warned: set[str] = set()


class UnpricedModelWarning(UserWarning):
    """A hosted model has no price: its calls cost 0.0 and cost guards cannot count them.

    The warning is one log line (logger `spine_providers.pricing`, level WARNING, the
    record's `category` this class), not a `warnings.warn`; filter it with `logging`.
    """


def warn_unpriced(model: str) -> None:
    """Log, once per model and process, one line saying `model` has no price and how to set
    one (Python `prices=` / `set_price`, or the YAML spec's `model.prices`)."""
    if model in _warned:
        return
    _warned.add(model)
    logger.warning(
        "UnpricedModelWarning: no price for model '%s': its calls count 0.0 USD, so max_cost "
        "guards and budgets do not see them; set one with prices= on the provider, "
        "set_price(), or in the YAML spec: model: {name: ..., prices: {%s: {input: ..., "
        "output: ...}}} (USD per million tokens)",
        model,
        model,
        extra={"category": UnpricedModelWarning},
    )


def cost_usd(model: str, usage: Usage, overrides: Mapping[str, Price] | None = None) -> float:
    """Cost of one call in USD: uncached input, cache reads, cache writes and output tokens.

    `usage.input_tokens` includes cached tokens (the `Usage` convention), so uncached input is
    `input_tokens - cache_read_tokens - cache_write_tokens`. Returns 0.0 for unknown models.
    """
    price = find_price(model, overrides)
    return 0.0 if price is None else price.cost_usd(usage)
