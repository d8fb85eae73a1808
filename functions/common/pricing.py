"""What a running instance costs an hour, and what an attempt cost.

- On-demand: the AWS Price List API (`pricing:GetProducts`), Linux, shared tenancy, cached per instance type and
  region for the life of the Lambda environment. Its Query API is served from us-east-1 (and eu-central-1,
  ap-south-1) for the aws partition and from cn-northwest-1 for China; other partitions have none
  (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-price-list-query-api.html).
- Spot: EC2's `DescribeSpotPriceHistory` for the instance's availability zone, now. A Linux Spot instance that
  EC2 interrupts in its first hour is not charged (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/billing-for-interrupted-spot-instances.html).
- EC2 bills Linux instances per second, with a minimum of 60 seconds (https://aws.amazon.com/ec2/pricing/on-demand/).
- The root EBS volume (the image's size and type) at its Price List price a GB-month, prorated by the second over
  a 30-day month, as https://aws.amazon.com/ebs/pricing/ computes it.
- A public IPv4 address: $0.005 an hour (https://aws.amazon.com/vpc/pricing/, since February 2024).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import get_session

PRICE_LIST_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-northwest-1"}  # a partition's Price List Query API
MIN_BILLED_SECONDS = 60
SECONDS_PER_HOUR = 3600
EBS_MONTH_HOURS = 30 * 24
PUBLIC_IPV4_USD_PER_HOUR = 0.005
DEFAULT_ROOT_VOLUME = (8, "gp3")  # Amazon Linux 2023's root volume, when the image does not say
_ON_DEMAND: dict[tuple[str, str], float] = {}  # (instance type, region) -> USD an hour
_STORAGE: dict[tuple[str, str], float] = {}  # (volume type, region) -> USD a GB-month


class PriceUnavailable(Exception):
    """No price could be found for what was asked."""


@dataclass(frozen=True)
class Rate:
    """USD an hour of one running instance: the instance itself, its root volume and its public IPv4 address."""

    instance: float
    volume: float
    public_ip: float

    @property
    def hourly(self) -> float:
        return self.instance + self.volume + self.public_ip

    @property
    def minimum_charge(self) -> float:
        """USD of the shortest billing: MIN_BILLED_SECONDS (EC2 bills per second, a minute at least)."""
        return self.hourly * MIN_BILLED_SECONDS / SECONDS_PER_HOUR

    def as_dict(self) -> dict[str, float]:
        return {"instance": self.instance, "volume": self.volume, "publicIp": self.public_ip}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Rate:
        return cls(float(values["instance"]), float(values["volume"]), float(values["publicIp"]))


def attempt_cost(rate: Rate, seconds: float, free_instance: bool = False) -> float:
    """USD for an instance that ran this long (free_instance: a Spot instance EC2 interrupted in its first hour)."""
    billed = max(seconds, MIN_BILLED_SECONDS) / SECONDS_PER_HOUR
    return round(((0.0 if free_instance else rate.instance) + rate.volume + rate.public_ip) * billed, 6)


def affordable_seconds(budget_usd: float, rate: Rate) -> int:
    """How long an instance at this rate may run before its cost would pass the budget."""
    return int(budget_usd / rate.hourly * SECONDS_PER_HOUR)


def partition_of(region: str) -> str:
    """The partition a region belongs to, from the endpoint data botocore ships."""
    return get_session().get_partition_for_region(region)


class Prices:
    """Price lookups in one region; the Price List client (given its region, by partition) is made when first
    needed."""

    def __init__(self, ec2: Any, region: str, pricing_client: Callable[[str], Any]) -> None:
        self.ec2, self.region, self._pricing_client = ec2, region, pricing_client

    @cached_property
    def pricing(self) -> Any:
        partition = partition_of(self.region)
        if partition not in PRICE_LIST_REGIONS:
            raise PriceUnavailable(f"the AWS Price List API serves no endpoint in the {partition} partition")
        return self._pricing_client(PRICE_LIST_REGIONS[partition])

    def rate(self, instance_type: str, zone: str | None, spot: bool, image_id: str, public_ip: bool) -> Rate:
        instance = self.spot(instance_type, zone) if spot else self.on_demand(instance_type)
        size, volume_type = self.root_volume(image_id)
        volume = size * self.storage(volume_type) / EBS_MONTH_HOURS
        return Rate(instance, volume, PUBLIC_IPV4_USD_PER_HOUR if public_ip else 0.0)

    def on_demand(self, instance_type: str) -> float:
        key = (instance_type, self.region)
        if key not in _ON_DEMAND:
            _ON_DEMAND[key] = self._price_list(
                "Hrs", instanceType=instance_type, operatingSystem="Linux", tenancy="Shared", preInstalledSw="NA",
                capacitystatus="Used",
            )
        return _ON_DEMAND[key]

    def storage(self, volume_type: str) -> float:
        key = (volume_type, self.region)
        if key not in _STORAGE:
            _STORAGE[key] = self._price_list("GB-Mo", productFamily="Storage", volumeApiName=volume_type)
        return _STORAGE[key]

    def spot(self, instance_type: str, zone: str | None) -> float:
        history = self.ec2.describe_spot_price_history(
            InstanceTypes=[instance_type], ProductDescriptions=["Linux/UNIX"], StartTime=datetime.now(UTC),
            **({"AvailabilityZone": zone} if zone else {}),
        )["SpotPriceHistory"]  # fmt: skip
        if not history:
            raise PriceUnavailable(f"EC2 has no Spot price for {instance_type} in {zone or self.region}")
        return max(float(entry["SpotPrice"]) for entry in history)  # without a zone: the dearest one

    def root_volume(self, image_id: str) -> tuple[int, str]:
        """(GiB, volume type) of the image's root volume; Amazon Linux 2023's for an image EC2 cannot describe: gone,
        or not yet resolved (`resolve:ssm:<parameter>`, the stack's default: Amazon Linux 2023's latest)."""
        if image_id.startswith("resolve:ssm:"):
            return DEFAULT_ROOT_VOLUME
        try:
            images = self.ec2.describe_images(ImageIds=[image_id])["Images"]
        except ClientError as error:
            if not error.response["Error"]["Code"].startswith("InvalidAMIID."):
                raise
            images = []
        if not images:
            return DEFAULT_ROOT_VOLUME
        root = images[0].get("RootDeviceName")
        for mapping in images[0].get("BlockDeviceMappings", []):
            if mapping.get("DeviceName") == root and "Ebs" in mapping:
                ebs = mapping["Ebs"]
                return int(ebs.get("VolumeSize", DEFAULT_ROOT_VOLUME[0])), ebs.get("VolumeType", "gp3")
        return DEFAULT_ROOT_VOLUME

    def _price_list(self, unit: str, **attributes: str) -> float:
        """The USD price per `unit` of the one product these attributes name (the dearest, if several)."""
        filters = [{"Type": "TERM_MATCH", "Field": name, "Value": value}
                   for name, value in {**attributes, "regionCode": self.region}.items()]  # fmt: skip
        prices = []
        try:
            pages = list(self.pricing.get_paginator("get_products").paginate(ServiceCode="AmazonEC2", Filters=filters))
        except (ClientError, BotoCoreError) as error:  # denied, throttled, unreachable: a price that cannot be read
            raise PriceUnavailable(f"the AWS Price List could not be read ({error})") from None
        for page in pages:
            for text in page["PriceList"]:
                product = json.loads(text) if isinstance(text, str) else text
                for term in product.get("terms", {}).get("OnDemand", {}).values():
                    prices += [float(dimension["pricePerUnit"]["USD"]) for dimension in term["priceDimensions"].values()
                               if dimension.get("unit") == unit]  # fmt: skip
        if not prices:
            described = ", ".join(f"{name}={value}" for name, value in attributes.items())
            raise PriceUnavailable(f"the AWS Price List has no price for {described} in {self.region}")
        return max(prices)
