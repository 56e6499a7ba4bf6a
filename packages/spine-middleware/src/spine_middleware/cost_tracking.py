"""`CostTracking`: price each model call from a per-million-token price table."""

from __future__ import annotations

from collections.abc import Mapping

from spine_core import Middleware, ModelResponse, StepContext
from spine_providers.pricing import PRICES, Price, find_price

__all__ = ["DEFAULT_PRICES", "CostTracking", "Price"]

DEFAULT_PRICES: Mapping[str, Price] = PRICES
"""The built-in table: `spine_providers.pricing.PRICES` (USD per million tokens; its module
docstring cites the vendor pages and the date they were read)."""


class CostTracking(Middleware):
    """Set `Usage.cost_usd` of each model response from a price table, in `after_model`, before
    the kernel banks the usage into the run's totals (so `Guards.max_cost_usd` sees it).

    Prices are looked up by "scheme:model", then by model name (the response's `model`, else
    the provider's) as `spine_providers.pricing.find_price` does: snapshot suffixes
    ("claude-sonnet-4-5-20250929") use their base model's price, other versions never borrow
    one. Cache hits (`response.cached`) cost nothing.

    Args:
        prices: USD per million tokens by model, as `Price` objects or dicts such as
            `{"input": 3.0, "output": 15.0}`; searched before `DEFAULT_PRICES`.
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
        self.prices = {
            name: price if isinstance(price, Price) else Price(**price)
            for name, price in (prices or {}).items()
        }
        self.overwrite = overwrite
        self.strict = strict

    def price_for(self, scheme: str, model: str) -> Price | None:
        """The price of `model` served by `scheme`, or None."""
        return self.prices.get(f"{scheme}:{model}") or find_price(model, self.prices)

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
