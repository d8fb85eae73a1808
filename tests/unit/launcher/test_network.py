"""Launch preflight on moto: a run whose instance certainly cannot reach S3 launches nothing."""

from __future__ import annotations

from typing import Any

import pytest
from common.network import default_subnet, described_subnets, s3_reach, ssm_reach
from launcher.errors import LaunchFailed
from launcher.runs import Execution, start_run
from launcher.settings import Settings

from ..conftest import instances

EXECUTION = Execution(arn="arn:aws:states:us-east-1:123456789012:execution:longtask:net-1", name="net-1")


def private_subnet(ec2: Any, default_route: dict[str, str] | None = None) -> tuple[str, str]:
    """A new VPC's subnet with its own route table (and the given default route); (subnet id, route table id)."""
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    if default_route:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", **default_route)
    return subnet, table


def described(ec2: Any, subnet_id: str) -> dict[str, Any]:
    return described_subnets(ec2, [subnet_id])[0]


def test_default_subnet_with_its_public_ip_reaches_s3(aws: dict[str, Any]) -> None:
    subnet = default_subnet(aws["ec2"])
    assert subnet is not None
    assert s3_reach(aws["ec2"], subnet, [], None).reachable  # the default subnet maps public IPs
    refused = s3_reach(aws["ec2"], subnet, [], False)
    assert not refused.reachable and "no public IP" in refused.note and "internet gateway" in refused.note


def test_a_subnet_without_default_route_or_endpoint_is_refused(aws: dict[str, Any]) -> None:
    subnet, table = private_subnet(aws["ec2"])
    reach = s3_reach(aws["ec2"], described(aws["ec2"], subnet), [], None)
    assert not reach.reachable and table in reach.note and "no default route" in reach.note


def test_an_s3_gateway_endpoint_is_a_route(aws: dict[str, Any]) -> None:
    ec2 = aws["ec2"]
    subnet, table = private_subnet(ec2)
    vpc = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway",
                            RouteTableIds=[table])  # fmt: skip
    assert s3_reach(ec2, described(ec2, subnet), [], None).reachable


def test_a_route_it_cannot_check_launches_with_a_note(aws: dict[str, Any]) -> None:
    ec2 = aws["ec2"]
    subnet, _ = private_subnet(ec2)
    vpc = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    table = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    peer = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    peering = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=peer)["VpcPeeringConnection"]
    ec2.create_route(RouteTableId=table["RouteTables"][0]["RouteTableId"], DestinationCidrBlock="0.0.0.0/0",
                     VpcPeeringConnectionId=peering["VpcPeeringConnectionId"])  # fmt: skip
    reach = s3_reach(ec2, described(ec2, subnet), [], None)
    assert reach.reachable and reach.unchecked and "cannot check" in reach.note


def test_no_egress_on_443_is_refused(aws: dict[str, Any]) -> None:
    ec2 = aws["ec2"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="closed", Description="no egress", VpcId=vpc)["GroupId"]
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip
    reach = s3_reach(ec2, default_subnet(ec2), [group], None)
    assert not reach.reachable and "443" in reach.note


def test_a_run_that_could_never_report_launches_nothing(aws: dict[str, Any]) -> None:
    subnet, _ = private_subnet(aws["ec2"])
    with pytest.raises(LaunchFailed, match=f"no route to S3.*{subnet}"):
        start_run({"script": "echo hi", "subnetIds": [subnet]}, EXECUTION, Settings.from_environment(),
                  aws["ec2"], aws["s3"])  # fmt: skip
    assert instances(aws["ec2"]) == []


def test_unreachable_subnets_are_skipped_and_the_default_subnet_is_named(aws: dict[str, Any]) -> None:
    closed, _ = private_subnet(aws["ec2"])
    default = default_subnet(aws["ec2"])["SubnetId"]
    launch = start_run({"script": "echo hi", "subnetIds": [closed, default]}, EXECUTION,
                       Settings.from_environment(), aws["ec2"], aws["s3"])["launch"]  # fmt: skip
    assert launch["subnetId"] == default
    (instance,) = instances(aws["ec2"])
    assert instance["SubnetId"] == default and instance.get("PublicIpAddress")


def test_a_launch_describes_its_subnets_once(aws: dict[str, Any]) -> None:
    """One DescribeSubnets a launch (EC2's Describe calls share the account's request rate): the preflight's
    description also gives the launched instance's zone and public IP."""
    default = default_subnet(aws["ec2"])["SubnetId"]
    calls: list[str] = []
    aws["ec2"].meta.events.register("before-call.ec2.DescribeSubnets", lambda **_: calls.append("DescribeSubnets"))
    launch = start_run({"script": "echo hi"}, EXECUTION, Settings.from_environment(), aws["ec2"], aws["s3"])["launch"]
    assert launch["subnetId"] == default and launch["publicIp"]
    assert calls == ["DescribeSubnets"]


def test_ssm_is_reached_over_the_internet_or_through_its_three_interface_endpoints(aws: dict[str, Any]) -> None:
    ec2 = aws["ec2"]
    assert ssm_reach(ec2, default_subnet(ec2), None).reachable  # a public IP behind the internet gateway
    subnet, _ = private_subnet(ec2)
    vpc = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    for name in ("ssm", "ssmmessages"):
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.us-east-1.{name}", VpcEndpointType="Interface",
                                SubnetIds=[subnet])  # fmt: skip
    refused = ssm_reach(ec2, described(ec2, subnet), None)
    assert not refused.reachable and refused.note.endswith(f"no interface endpoint for ec2messages in {subnet}")
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.ec2messages", VpcEndpointType="Interface",
                            SubnetIds=[subnet])  # fmt: skip
    assert ssm_reach(ec2, described(ec2, subnet), None).reachable
