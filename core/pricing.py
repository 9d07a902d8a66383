"""What a call costs: configured prices per model, applied to a usage.

One table built from the config at start-up; the log writer prices finished calls with it,
and a budget can price a call while it runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from core.config.loader import GatewayConfig
from core.config.models import ModelPrice, model_id

ModelKind = Literal["chat", "embedding"]
NANO_DOLLARS = 1_000_000_000
"""Costs are counted in integer nano-dollars, so sums (rollups, budgets) stay exact."""


class PriceTable:
    """Prices of `account/model` ids by model kind; unknown models cost nothing."""

    __slots__ = ("_prices",)

    def __init__(self, prices: Mapping[tuple[str, str], ModelPrice]) -> None:
        self._prices = dict(prices)

    @classmethod
    def from_config(cls, config: GatewayConfig) -> PriceTable:
        return cls(
            {
                (model_id(account.name, model.name), model.kind): model.price
                for account in config.accounts
                for model in account.models
            }
        )

    def kinds(self) -> dict[str, str]:
        """Every model's kind (chat or embedding) by id."""
        return dict(self._prices.keys())

    def by_model(self) -> dict[str, ModelPrice]:
        """Every model's price by id (ids are unique across kinds)."""
        return {model: price for (model, _), price in self._prices.items()}

    def price(self, model_id: str, kind: str) -> ModelPrice | None:
        """The price of `model_id` (`account/model`) as a model of `kind`, None if unknown."""
        return self._prices.get((model_id, kind))

    def cost_nanos(self, model_id: str, kind: str, input_tokens: int, output_tokens: int) -> int:
        """What the tokens cost, in nano-dollars; 0 for a model without a price."""
        return cost_nanos(self.price(model_id, kind), input_tokens, output_tokens)


def cost_nanos(price: ModelPrice | None, input_tokens: int, output_tokens: int) -> int:
    """A cost in integer nano-dollars (prices are per million tokens), rounded up: the one
    pricing formula, for budgets while a call runs and for its log record after."""
    if price is None:
        return 0
    dollars_e6 = input_tokens * price.input_per_million + output_tokens * price.output_per_million
    return math.ceil(dollars_e6 * (NANO_DOLLARS / 1_000_000))
