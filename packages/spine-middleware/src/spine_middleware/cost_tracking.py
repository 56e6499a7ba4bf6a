"""`CostTracking`: price each model call from a per-million-token price."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spine_core import Middleware, StepContext, provider_model, provider_name
from spine_providers.pricing import PRICES, Price, find_price

__all__ = ["DEFAULT_PRICES", "CostTracking", "Price"]

DEFAULT_PRICES: Mapping[str, Price] = PRICES
"""The built-in table: `spine_providers.pricing.PRICES` (USD per million tokens; its module
docstring cites the vendor pages and the date they were read)."""


class CostTracking(Middleware):
    """Compute `Usage.cost_usd` from token counts and a per-1M-token price.

    Runs in `after_model`, before the kernel banks the usage into the run's totals, so the
    computed cost feeds straight into `Guards.max_cost_usd` (and `TenantBudget`). By default
    it only fills a cost the provider left at zero; set `overwrite=True` to always recompute.

    The price of a call is, in this order: the `prices` entry for "scheme:model" or the
    model name (the response's `model`, else the provider's, looked up as
    `spine_providers.pricing.find_price` does: snapshot suffixes such as
    "claude-sonnet-4-5-20250929" use their base model's price, other versions never borrow
    one); else the flat `input_per_mtok` / `output_per_mtok` price when given; else the
    built-in `DEFAULT_PRICES`. Cost = (uncached input x input + cache reads x cache_read +
    cache writes x cache_write + output x output) / 1,000,000 USD; a flat price charges cached
    input at the input rate, i.e. (input_tokens x input + output_tokens x output) / 1e6.
    Cache hits (`response.cached`) are left as the cache made them (free by default). The
    response is copied, never edited in place.

    Args:
        input_per_mtok: USD per million input tokens, for every model (with
            `output_per_mtok`).
        output_per_mtok: USD per million output tokens (reasoning tokens included).
        overwrite: Replace a cost the provider already reported, instead of only filling a
            zero.
        prices: USD per million tokens by model, as `Price` objects or dicts such as
            `{"input": 3.0, "output": 15.0}`; searched first.
        strict: Raise for a model with no price instead of leaving its cost unchanged.

    Raises:
        ValueError: only one of `input_per_mtok` / `output_per_mtok`, or a negative price.
        KeyError: (at call time, with `strict`) no price for the model.
    """

    def __init__(
        self,
        input_per_mtok: float | None = None,
        output_per_mtok: float | None = None,
        *,
        overwrite: bool = False,
        prices: Mapping[str, Price | Mapping[str, float]] | None = None,
        strict: bool = False,
    ) -> None:
        if (input_per_mtok is None) != (output_per_mtok is None):
            raise ValueError("give both input_per_mtok and output_per_mtok, or neither")
        self.input_per_mtok = input_per_mtok
        self.output_per_mtok = output_per_mtok
        self.flat: Price | None = None
        if input_per_mtok is not None and output_per_mtok is not None:
            if input_per_mtok < 0 or output_per_mtok < 0:
                raise ValueError("prices must be >= 0 USD")
            self.flat = Price(input=input_per_mtok, output=output_per_mtok)
        self.prices = {
            name: price if isinstance(price, Price) else Price(**price)
            for name, price in (prices or {}).items()
        }
        self.overwrite = overwrite
        self.strict = strict

    def price_for(self, scheme: str, model: str) -> Price | None:
        """The price of `model` served by `scheme`, or None."""
        explicit = self.prices.get(f"{scheme}:{model}")
        if explicit is None and self.prices:
            # find_price searches the given table, then the built-in one: keep only a hit of
            # ours here, so the flat price stays ahead of the built-in table.
            found = find_price(model, self.prices)
            if found is not None and any(found is p for p in self.prices.values()):
                explicit = found
        if explicit is not None:
            return explicit
        if self.flat is not None:
            return self.flat
        return find_price(model)

    async def after_model(self, ctx: StepContext[Any]) -> None:
        response = ctx.response
        if response is None or response.cached:
            return  # a cache hit's usage is the cache's to set (`Cache(zero_cost_on_hit=...)`)
        if response.usage.cost_usd and not self.overwrite:
            return
        model = response.model or provider_model(ctx.provider)
        price = self.price_for(provider_name(ctx.provider), model)
        if price is None:
            if self.strict:
                raise KeyError(f"CostTracking has no price for model '{model}'")
            return
        cost = price.cost_usd(response.usage)
        usage = response.usage.model_copy(update={"cost_usd": cost})
        ctx.response = response.model_copy(update={"usage": usage})
