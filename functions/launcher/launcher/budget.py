"""maxCostUsd as a second deadline: the moment at which the run's cost would pass its budget.

The workflow's timeout guard then enforces it at any poll interval, as it enforces timeoutSeconds. Each attempt
gets what the earlier ones left of the budget, at the rate of what was launched (common/pricing.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from common.pricing import MIN_BILLED_SECONDS, Prices, PriceUnavailable, Rate, affordable_seconds

from .errors import InvalidInput, LaunchFailed
from .instances import Launched


@dataclass(frozen=True)
class Budgeted:
    """What the launched instance costs an hour, and how long the budget lets it run."""

    rate: Rate
    seconds: int


def refuse_a_budget_too_small(prices: Prices, budget_left: float, instance_types: list[str], image_id: str,
                              relaunch: bool = False) -> None:  # fmt: skip
    """InvalidInput (LaunchFailed for a relaunch: the input was fine), before anything is launched, when what is
    left of the budget cannot pay EC2's minimum billing (60 s) of the dearest instance type on demand."""
    try:
        rate = max((prices.rate(t, None, False, image_id, public_ip=True) for t in instance_types),
                   key=lambda r: r.hourly)  # fmt: skip
    except PriceUnavailable as error:
        raise LaunchFailed(f"maxCostUsd needs prices, and {error}; run without maxCostUsd") from None
    least = rate.minimum_charge
    if budget_left < least:
        raise (LaunchFailed if relaunch else InvalidInput)(
            f"maxCostUsd: {budget_left:.6f} USD left cannot pay the {MIN_BILLED_SECONDS} s EC2 bills at least "
            f"({rate.hourly:.4f} USD an hour for {' or '.join(instance_types)} on demand); give at least {least:.6f}"
        )


def budget_for(prices: Prices, launched: Launched, zone: str | None, image_id: str, public_ip: bool,
               budget_left: float) -> Budgeted:  # fmt: skip
    """The launched instance's rate, and the seconds the budget left buys at it."""
    try:
        rate = prices.rate(launched.instance_type, zone, launched.spot, image_id, public_ip)
    except PriceUnavailable:  # priced before the launch, so only a Spot price can be missing: on demand is dearer
        rate = prices.rate(launched.instance_type, None, False, image_id, public_ip)
    return Budgeted(rate, affordable_seconds(budget_left, rate))
