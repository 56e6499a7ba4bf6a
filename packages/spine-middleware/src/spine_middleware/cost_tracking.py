"""`CostTracking`: price each model call from a per-million-token price table."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from spine_core import Middleware, ModelResponse, StepContext, Usage

__all__ = ["DEFAULT_PRICES", "CostTracking", "Price"]


class Price(BaseModel):
    """USD per million tokens.

    Attributes:
        input: Uncached input tokens.
        output: Output tokens (reasoning tokens included).
        cache_read: Input tokens read from the provider's prompt cache (default: `input`).
        cache_write: Input tokens written to the prompt cache (default: `input`).
    """

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def cost_usd(self, usage: Usage) -> float:
        """The USD cost of `usage` (whose `input_tokens` include cache reads and writes)."""
        cache_read = self.input if self.cache_read is None else self.cache_read
        cache_write = self.input if self.cache_write is None else self.cache_write
        fresh = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
        total = (
            fresh * self.input
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
            + usage.output_tokens * self.output
        )
        return total / 1_000_000


DEFAULT_PRICES: dict[str, Price] = {
    # Anthropic list prices, https://www.anthropic.com/pricing (5-minute cache writes).
    "claude-opus-4-1": Price(input=15.0, output=75.0, cache_read=1.5, cache_write=18.75),
    "claude-sonnet-4-5": Price(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75),
    "claude-haiku-4-5": Price(input=1.0, output=5.0, cache_read=0.1, cache_write=1.25),
    # OpenAI list prices, https://openai.com/api/pricing (cached input).
    "gpt-4o": Price(input=2.5, output=10.0, cache_read=1.25),
    "gpt-4o-mini": Price(input=0.15, output=0.6, cache_read=0.075),
    "gpt-4.1": Price(input=2.0, output=8.0, cache_read=0.5),
    "gpt-4.1-mini": Price(input=0.4, output=1.6, cache_read=0.1),
    # Google list prices, https://ai.google.dev/gemini-api/docs/pricing (prompts <= 200k).
    "gemini-2.5-pro": Price(input=1.25, output=10.0, cache_read=0.31),
    "gemini-2.5-flash": Price(input=0.3, output=2.5, cache_read=0.075),
}
"""Built-in list prices (USD per million tokens) as published on the vendors' pricing pages
in 2025; prices change, so override them with `CostTracking(prices=...)`."""


class CostTracking(Middleware):
    """Set `Usage.cost_usd` of each model response from a price table, in `after_model`, before
    the kernel banks the usage into the run's totals (so `Guards.max_cost_usd` sees it).

    Prices are looked up by "scheme:model", then by model name (the response's `model`, else
    the provider's), then by the longest table key the model name starts with (so
    "claude-sonnet-4-5-20250929" uses "claude-sonnet-4-5"). Cache hits (`response.cached`)
    cost nothing.

    Args:
        prices: USD per million tokens by model, as `Price` objects or dicts such as
            `{"input": 3.0, "output": 15.0}`; merged over `DEFAULT_PRICES`.
        overwrite: Replace a cost the provider already reported (default) or only fill a zero.
        strict: Raise for a model with no price instead of leaving its cost unchanged.

    Raises:
        KeyError: (at call time, with `strict`) no price for the model.
    """

    def __init__(
        self,
        *,
        prices: Mapping[str, Price | Mapping[str, float]] | None = None,
        overwrite: bool = True,
        strict: bool = False,
    ) -> None:
        table = dict(DEFAULT_PRICES)
        for name, price in (prices or {}).items():
            table[name] = price if isinstance(price, Price) else Price.model_validate(price)
        self.prices = table
        self.overwrite = overwrite
        self.strict = strict

    def price_for(self, scheme: str, model: str) -> Price | None:
        """The price of `model` served by `scheme`, or None."""
        found = self.prices.get(f"{scheme}:{model}") or self.prices.get(model)
        if found is not None:
            return found
        prefixes = [k for k in self.prices if model.startswith(k)]
        return self.prices[max(prefixes, key=len)] if prefixes else None

    async def after_model(self, ctx: StepContext, response: ModelResponse) -> ModelResponse | None:
        if response.cached:
            cost = 0.0
        else:
            model = response.model or ctx.provider.model
            price = self.price_for(ctx.provider.name, model)
            if price is None:
                if self.strict:
                    raise KeyError(f"CostTracking has no price for model '{model}'")
                return None
            cost = price.cost_usd(response.usage)
        if not self.overwrite and response.usage.cost_usd:
            return None
        usage = response.usage.model_copy(update={"cost_usd": cost})
        return response.model_copy(update={"usage": usage})
