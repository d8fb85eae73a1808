"""What an attempt cost (common/pricing.py): the time its instance ran, at the attempt's rate."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from common.launch import Launch
from common.pricing import SECONDS_PER_HOUR, Prices, PriceUnavailable, Rate, attempt_cost
from common.state_reasons import SPOT_RECLAIMED

from .instance import Ended


def cost_of_attempt(prices: Prices, launch: Launch, ended: Ended) -> tuple[dict[str, Any], str]:
    """({"instanceSeconds", "costUsd"} of the attempt, ""), or ({}, why it could not be priced)."""
    seconds = ended.ran_seconds
    if seconds is None:
        return {}, "EC2 no longer describes the instance"
    try:
        rate = rate_of(prices, launch, ended)
    except (PriceUnavailable, ClientError, BotoCoreError) as error:
        return {}, str(error)
    reclaimed_early = launch.spot and ended.code == SPOT_RECLAIMED and seconds < SECONDS_PER_HOUR
    return {"instanceSeconds": round(seconds), "costUsd": attempt_cost(rate, seconds, reclaimed_early)}, ""


def rate_of(prices: Prices, launch: Launch, ended: Ended) -> Rate:
    """The rate the launcher priced the attempt at (with maxCostUsd), else today's for what was launched."""
    if launch.rate:
        return Rate.from_dict(launch.rate)
    zone = (ended.instance.get("Placement") or {}).get("AvailabilityZone")
    image_id = ended.instance.get("ImageId", "")
    return prices.rate(launch.instance_type, zone, launch.spot, image_id, launch.public_ip)


def totals(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """instanceSeconds and costUsd summed over the attempts that could be priced (null when none could)."""
    priced = [a for a in attempts if a.get("costUsd") is not None]
    if not priced:
        return {"instanceSeconds": None, "costUsd": None}
    return {"instanceSeconds": sum(a["instanceSeconds"] for a in priced),
            "costUsd": round(sum(a["costUsd"] for a in priced), 6)}  # fmt: skip
