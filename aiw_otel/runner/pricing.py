"""Cost of a model turn from a configured price table, for providers that do not report cost.

OpenRouter reports what it charged; OpenAI, local servers and replays do not, so the config may
give prices per model. Prices are per million tokens because that is how providers publish them.
"""

from __future__ import annotations

from typing import Mapping

#: model -> (USD per 1M input tokens, USD per 1M output tokens)
PriceTable = Mapping[str, tuple[float, float]]


def table_cost(
    price_table: PriceTable | None, models: tuple[str | None, ...], input_tokens: int | None, output_tokens: int | None
) -> float | None:
    """Cost in USD under the first of `models` the table prices; None when unpriced or usage unknown.

    Several names are tried because a table written for the requested alias (`gpt-4o-mini`) should
    also price a response that names the dated snapshot, and vice versa.
    """
    if not price_table or input_tokens is None or output_tokens is None:
        return None
    for model in models:
        if model and model in price_table:
            per_input, per_output = price_table[model]
            return (input_tokens * per_input + output_tokens * per_output) / 1_000_000
    return None
