"""Model prices and the cost of one call, in US dollars.

Prices are USD per million tokens, as published on the vendors' pricing pages in
November 2025 (standard tier, prompts up to each vendor's first context tier):

- Anthropic: https://www.anthropic.com/pricing and
  https://docs.anthropic.com/en/docs/about-claude/pricing (cache write = 5-minute write,
  1.25x input; cache read 0.1x input)
- OpenAI: https://openai.com/api/pricing (cached input; OpenAI charges no cache writes)
- Google: https://ai.google.dev/gemini-api/docs/pricing (context-cache reads; storage not
  included)

Prices change; pass `prices=` to a provider (or call `set_price`) to use your own. Models not
in the table cost 0.0 (local endpoints such as Ollama are free).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from spine_core.messages import Usage

__all__ = ["PRICES", "Price", "cost_usd", "find_price", "set_price"]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens: uncached input, output, cache reads and cache writes."""

    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0


PRICES: dict[str, Price] = {
    # Anthropic
    "claude-opus-4-5": Price(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-1": Price(15.0, 75.0, 1.50, 18.75),
    "claude-opus-4": Price(15.0, 75.0, 1.50, 18.75),
    "claude-sonnet-4-5": Price(3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4": Price(3.0, 15.0, 0.30, 3.75),
    "claude-3-7-sonnet": Price(3.0, 15.0, 0.30, 3.75),
    "claude-haiku-4-5": Price(1.0, 5.0, 0.10, 1.25),
    "claude-3-5-haiku": Price(0.80, 4.0, 0.08, 1.0),
    # OpenAI
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
    # Google
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
    """The price of `model`: an exact match first, then the longest matching prefix.

    Prefix matching maps dated snapshots ("claude-haiku-4-5-20251001",
    "gpt-4o-2024-08-06") and OpenRouter-style names ("openai/gpt-4o") to their base entry.
    `overrides` is searched before the built-in table.
    """
    name = model.rsplit("/", 1)[-1]
    for table in (overrides or {}, PRICES):
        if name in table:
            return table[name]
        best = max((key for key in table if name.startswith(f"{key}-")), key=len, default=None)
        if best is not None:
            return table[best]
    return None


def cost_usd(model: str, usage: Usage, overrides: Mapping[str, Price] | None = None) -> float:
    """Cost of one call in USD: uncached input, cache reads, cache writes and output tokens.

    `usage.input_tokens` includes cached tokens (the `Usage` convention), so uncached input is
    `input_tokens - cache_read_tokens - cache_write_tokens`. Returns 0.0 for unknown models.
    """
    price = find_price(model, overrides)
    if price is None:
        return 0.0
    uncached = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
    total = (
        uncached * price.input
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_write_tokens * price.cache_write
        + usage.output_tokens * price.output
    )
    return total / 1_000_000
