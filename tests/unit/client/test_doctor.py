"""The doctor's pieces that need no stack: which vCPU quota a type counts against, and the internet route."""

from __future__ import annotations

from typing import Any

import pytest

from longtask.client import Target
from longtask.common.network import default_subnet, internet_reach
from longtask.common.vcpu_quotas import quota_codes
from longtask.doctor import Doctor, Plan

from ..conftest import REGION


@pytest.mark.parametrize(("instance_type", "codes"), [
    ("t3a.nano", ("L-1216C47A", "L-34B43A08")), ("c7i.large", ("L-1216C47A", "L-34B43A08")),
    ("im4gn.large", ("L-1216C47A", "L-34B43A08")), ("g5.xlarge", ("L-DB2E81BA", "L-3819A6DF")),
    ("p5.48xlarge", ("L-417A185B", "L-C4BD4855")), ("p4d.24xlarge", ("L-417A185B", "L-7212CCBC")),
    ("p3.2xlarge", ("L-417A185B", "L-7212CCBC")), ("trn1.2xlarge", None), ("x2iedn.xlarge", None),
    ("hpc7g.4xlarge", None), ("inf2.xlarge", None),
])  # fmt: skip
def test_each_family_counts_against_its_own_vcpu_quota(instance_type: str, codes: tuple[str, str] | None) -> None:
    assert quota_codes(instance_type) == codes


def test_the_internet_needs_a_public_ip_with_an_internet_gateway(aws: dict[str, Any]) -> None:
    ec2 = aws["ec2"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]
    assert internet_reach(ec2, subnet, public_ip=True).reachable
    private = internet_reach(ec2, subnet, public_ip=False)
    assert not private.reachable and "add a NAT gateway, or set associatePublicIpAddress" in private.note


@pytest.mark.parametrize("subnet_ids", [[], ["the default"]])
def test_the_network_and_offerings_checks_describe_the_subnets_once(aws: dict[str, Any], subnet_ids: list[str]) -> None:
    """EC2's Describe calls share the account's request rate: one DescribeSubnets for both checks."""
    default = default_subnet(aws["ec2"])
    doctor = Doctor(Target(region=REGION))
    plan = Plan(instance_types=["t3a.nano"], subnet_ids=[default["SubnetId"] for _ in subnet_ids], image="",
                security_group_ids=[], public_ip=None, spot=False)
    calls: list[str] = []
    doctor.ec2.meta.events.register("before-call.ec2.DescribeSubnets", lambda **_: calls.append("DescribeSubnets"))
    checks = [*doctor.check_network(plan), *doctor.check_offerings(plan)]
    assert calls == ["DescribeSubnets"]
    assert [check.name for check in checks] == [f"route to S3 from {default['SubnetId']}",
                                                f"route to the internet from {default['SubnetId']}", "t3a.nano offered"]
    assert checks[-1].detail == f"in {default['AvailabilityZone']}"
