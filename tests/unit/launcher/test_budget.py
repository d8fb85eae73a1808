"""maxCostUsd: prices from the (local) Price List and EC2, the budget's deadline, and a budget refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from common.pricing import Prices, PriceUnavailable, Rate, affordable_seconds, attempt_cost
from launcher.errors import InvalidInput
from launcher.runs import Attempt, Execution, start_run
from launcher.settings import Settings

from ..conftest import LocalPriceList, instances

EXECUTION = Execution(arn="arn:aws:states:us-east-1:123456789012:execution:longtask:run-1", name="run-1")
# t3a.nano on demand, 8 GiB of gp3 (the image is unknown to moto: Amazon Linux 2023's root volume), a public IPv4
NANO = Rate(0.0047, 8 * 0.08 / 720, 0.005)


def prices(aws: dict[str, Any], price_list: LocalPriceList) -> Prices:
    return Prices(aws["ec2"], "us-east-1", lambda region: price_list)


def test_on_demand_prices_come_from_the_price_list_once_per_type(aws: dict, price_list: LocalPriceList) -> None:
    looked_up = prices(aws, price_list)
    assert looked_up.on_demand("t3a.nano") == looked_up.on_demand("t3a.nano") == 0.0047
    (request,) = price_list.requests
    fields = {f["Field"]: f["Value"] for f in request["Filters"]}
    assert request["ServiceCode"] == "AmazonEC2"
    assert fields == {"instanceType": "t3a.nano", "operatingSystem": "Linux", "tenancy": "Shared",
                      "preInstalledSw": "NA", "capacitystatus": "Used", "regionCode": "us-east-1"}  # fmt: skip


def test_the_rate_adds_the_root_volume_and_the_public_ip(aws: dict, price_list: LocalPriceList) -> None:
    rate = prices(aws, price_list).rate("t3a.nano", None, False, "ami-12345678", public_ip=True)
    assert rate == pytest.approx(NANO)
    without_ip = prices(aws, price_list).rate("t3a.nano", None, False, "ami-12345678", public_ip=False)
    assert without_ip.public_ip == 0


def test_spot_prices_come_from_ec2s_price_history(aws: dict, price_list: LocalPriceList) -> None:
    assert prices(aws, price_list).spot("t3a.nano", "us-east-1a") == 0.00001  # moto's one Spot price


def test_ec2_bills_at_least_a_minute_and_not_a_spot_instance_it_interrupts_in_its_first_hour() -> None:
    assert attempt_cost(NANO, 10) == attempt_cost(NANO, 60) == round(NANO.hourly / 60, 6)
    assert attempt_cost(NANO, 1800, free_instance=True) == round((NANO.volume + NANO.public_ip) / 2, 6)
    assert affordable_seconds(0.001, NANO) == int(0.001 / NANO.hourly * 3600)


def start(aws: dict[str, Any], price_list: LocalPriceList, raw: dict[str, Any], spent: float = 0) -> dict[str, Any]:
    return start_run(raw, EXECUTION, Settings.from_environment(), aws["ec2"], aws["s3"], Attempt(spent_usd=spent),
                     prices=prices(aws, price_list))["launch"]  # fmt: skip


def _seconds(launch: dict[str, Any]) -> float:
    return (datetime.fromisoformat(launch["deadline"]) - datetime.fromisoformat(launch["launchedAt"])).total_seconds()


def test_a_budget_that_runs_out_before_the_timeout_is_the_deadline(aws: dict, price_list: LocalPriceList) -> None:
    launch = start(aws, price_list, {"script": "true", "maxCostUsd": 0.001, "timeoutSeconds": 3600})
    assert launch["deadlineSource"] == "BUDGET"
    assert _seconds(launch) == affordable_seconds(0.001, NANO)
    assert Rate.from_dict(launch["rate"]) == pytest.approx(NANO) and launch["publicIp"] is True
    assert launch["windows"][-2]["until"] == launch["deadline"]  # the guard watches the budget's deadline


def test_what_earlier_attempts_spent_is_taken_off_the_budget(aws: dict, price_list: LocalPriceList) -> None:
    launch = start(aws, price_list, {"script": "true", "maxCostUsd": 0.002, "retries": 1}, spent=0.001)
    assert _seconds(launch) == affordable_seconds(0.001, NANO) and launch["spentUsd"] == 0.001


def test_a_generous_budget_leaves_the_timeout_as_the_deadline(aws: dict, price_list: LocalPriceList) -> None:
    launch = start(aws, price_list, {"script": "true", "maxCostUsd": 100, "timeoutSeconds": 600})
    assert (launch["deadlineSource"], _seconds(launch)) == ("TIMEOUT", 600)


def test_a_budget_below_a_billed_minute_launches_nothing(aws: dict, price_list: LocalPriceList) -> None:
    with pytest.raises(InvalidInput, match=r"maxCostUsd: 0.000100 USD left cannot pay the 60 s EC2 bills at least"):
        start(aws, price_list, {"script": "true", "maxCostUsd": 0.0001})
    assert instances(aws["ec2"]) == []


def test_a_relaunch_the_budget_left_cannot_pay_fails_to_launch(aws: dict, price_list: LocalPriceList) -> None:
    from launcher.errors import LaunchFailed

    raw = {"script": "true", "maxCostUsd": 0.001, "retries": 1}
    with pytest.raises(LaunchFailed, match=r"maxCostUsd: 0\.000050 USD left cannot pay"):
        start_run(raw, EXECUTION, Settings.from_environment(), aws["ec2"], aws["s3"], Attempt(1, 0, 0.00095),
                  prices=prices(aws, price_list))  # fmt: skip
    assert instances(aws["ec2"]) == []


@pytest.mark.parametrize(("region", "endpoint"), [("eu-west-1", "us-east-1"), ("cn-north-1", "cn-northwest-1")])
def test_the_price_list_is_read_in_the_regions_partition(aws: dict, price_list: LocalPriceList, region: str,
                                                         endpoint: str) -> None:  # fmt: skip
    asked: list[str] = []
    looked_up = Prices(aws["ec2"], region, lambda at: asked.append(at) or price_list)
    with pytest.raises(PriceUnavailable):  # the local prices know us-east-1 only: asked, then not found
        looked_up.on_demand("t3a.nano")
    assert asked == [endpoint]


@pytest.mark.parametrize("failure", [ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetProducts"),
                                     EndpointConnectionError(endpoint_url="https://api.pricing.example")])  # fmt: skip
def test_a_price_list_that_cannot_be_read_refuses_a_budget_before_any_launch(aws: dict, failure: Exception) -> None:
    from launcher.errors import LaunchFailed

    class Unreachable:
        def get_paginator(self, _: str) -> Any:
            raise failure

    unreadable = Prices(aws["ec2"], "us-east-1", lambda region: Unreachable())
    with pytest.raises(LaunchFailed, match=r"maxCostUsd needs prices, and the AWS Price List could not be read"):
        start_run({"script": "true", "maxCostUsd": 1}, EXECUTION, Settings.from_environment(), aws["ec2"],
                  aws["s3"], prices=unreadable)  # fmt: skip
    assert instances(aws["ec2"]) == []


def test_a_partition_without_a_price_list_has_no_price(aws: dict) -> None:
    with pytest.raises(PriceUnavailable, match="no endpoint in the aws-us-gov partition"):
        Prices(aws["ec2"], "us-gov-west-1", lambda region: pytest.fail("no client")).on_demand("t3a.nano")
