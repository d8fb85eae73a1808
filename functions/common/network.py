"""Network preflight (the launcher's and `longtask doctor`'s): will an instance in this subnet reach S3, where it
fetches its script and reports, and the internet, where scripts install packages?

A run whose instance certainly cannot reach S3 never reports: refuse it before launching. "Certainly" is:
- the security groups allow no egress on TCP 443;
- the subnet's route table has no default route, no NAT and no S3 gateway endpoint;
- the instance gets no public IP and the only default route goes to an internet gateway.
A route to something this cannot look into (a transit gateway, a peering, a firewall, a NAT instance) is
launched anyway, with a note. Sources: VPC user guide, "Default VPCs", "Gateway endpoints for Amazon S3",
"Enable internet access for a VPC using an internet gateway"; EC2 API reference, InstanceNetworkInterfaceSpecification
(AssociatePublicIpAddress overrides the subnet's MapPublicIpOnLaunch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HTTPS = 443


@dataclass(frozen=True)
class Reach:
    """Whether S3 is reachable from the subnet (False only when certainly not), and what was found."""

    reachable: bool
    note: str
    unchecked: bool = False  # reachable as far as the launcher can tell: the path goes where it cannot look


def default_subnet(ec2: Any) -> dict[str, Any] | None:
    """The default VPC's default subnet that EC2 would pick (the first availability zone), as EC2 describes it."""
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return min(subnets, key=lambda s: s["AvailabilityZone"]) if subnets else None


def described_subnets(ec2: Any, subnet_ids: list[str]) -> list[dict[str, Any]]:
    """The subnets as EC2 describes them, in the order given: one DescribeSubnets for all of them."""
    found = {subnet["SubnetId"]: subnet for subnet in ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]}
    return [found[subnet_id] for subnet_id in subnet_ids]


def public_ip_on_launch(subnet: dict[str, Any], requested: bool | None) -> bool:
    """Whether an instance launched in this subnet gets a public IPv4 address (AssociatePublicIpAddress, when
    given, overrides the subnet's MapPublicIpOnLaunch)."""
    return subnet.get("MapPublicIpOnLaunch", False) if requested is None else requested


def s3_reach(ec2: Any, subnet: dict[str, Any], security_group_ids: list[str], public_ip: bool | None) -> Reach:
    """Where this subnet's (as described) default route and S3 endpoint lead, for an instance with these groups."""
    gets_public_ip = public_ip_on_launch(subnet, public_ip)
    egress = _egress_on_https(ec2, security_group_ids)
    if egress is False:
        return Reach(False, f"security groups {', '.join(security_group_ids)} allow no outbound TCP {HTTPS}")
    reach = _route(ec2, subnet["SubnetId"], subnet["VpcId"], gets_public_ip)
    if reach.reachable and egress is None:
        caveat = f"the security groups allow TCP {HTTPS} only to some addresses, which the launcher cannot check"
        return Reach(True, f"{reach.note}; {caveat}", unchecked=True)
    return reach


def internet_reach(ec2: Any, subnet: dict[str, Any], public_ip: bool | None) -> Reach:
    """Whether an instance in this subnet (as described) reaches the internet: a public IP and an internet gateway,
    or NAT (an S3 gateway endpoint reaches S3 only)."""
    subnet_id = subnet["SubnetId"]
    table = route_table(ec2, subnet_id, subnet["VpcId"])
    if table is None:
        return Reach(False, f"subnet {subnet_id} has no route table")
    return _default_route(table, subnet_id, public_ip_on_launch(subnet, public_ip), "the internet")


SSM_ENDPOINTS = ("ssm", "ssmmessages", "ec2messages")  # what the SSM agent calls (Run Command, Session Manager)


def ssm_reach(ec2: Any, subnet: dict[str, Any], public_ip: bool | None) -> Reach:
    """Whether the SSM agent of an instance in this subnet reaches SSM: the internet, or interface endpoints for
    ssm, ssmmessages and ec2messages in the subnet (Systems Manager user guide, "Improve the security of EC2
    instances by using VPC endpoints for Systems Manager")."""
    internet = internet_reach(ec2, subnet, public_ip)
    if internet.reachable:
        return Reach(True, f"SSM over {internet.note}", internet.unchecked)
    subnet_id = subnet["SubnetId"]
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]}])["VpcEndpoints"]
    served = {e["ServiceName"].rsplit(".", 1)[-1] for e in endpoints
              if e.get("VpcEndpointType") == "Interface" and subnet_id in e.get("SubnetIds", [])
              and e.get("State", "available").lower() == "available"}  # fmt: skip
    missing = [name for name in SSM_ENDPOINTS if name not in served]
    if not missing:
        return Reach(True, f"interface endpoints for {', '.join(SSM_ENDPOINTS)} in {subnet_id}")
    return Reach(False, f"{internet.note}; and no interface endpoint for {', '.join(missing)} in {subnet_id}")


def _route(ec2: Any, subnet_id: str, vpc_id: str, gets_public_ip: bool) -> Reach:
    table = route_table(ec2, subnet_id, vpc_id)
    if table is None:
        return Reach(False, f"subnet {subnet_id} has no route table")
    if _has_s3_endpoint(ec2, vpc_id, table["RouteTableId"], ec2.meta.region_name):
        return Reach(True, f"S3 gateway endpoint on {table['RouteTableId']}")
    return _default_route(table, subnet_id, gets_public_ip, "S3")


def _default_route(table: dict[str, Any], subnet_id: str, gets_public_ip: bool, where: str) -> Reach:
    """Where the route table's default route takes an instance of the subnet."""
    default = next((r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == "0.0.0.0/0"
                    and r.get("State", "active") == "active"), None)  # fmt: skip
    if default is None:
        endpoint = ", no NAT and no S3 gateway endpoint" if where == "S3" else " and no NAT"
        return Reach(False, f"route table {table['RouteTableId']} of subnet {subnet_id} has no default route "
                            f"(0.0.0.0/0){endpoint}")  # fmt: skip
    gateway = default.get("GatewayId", "")
    if gateway.startswith("igw-"):
        if gets_public_ip:
            return Reach(True, f"public IP and internet gateway {gateway}")
        fix = "add a NAT gateway or an S3 gateway endpoint (CreateS3Endpoint)" if where == "S3" else "add a NAT gateway"
        return Reach(False, f"the instance gets no public IP in subnet {subnet_id} and its only default route goes "
                            f"to internet gateway {gateway}; {fix}, or set associatePublicIpAddress")  # fmt: skip
    if default.get("NatGatewayId"):
        return Reach(True, f"NAT gateway {default['NatGatewayId']}")
    target = next((default[k] for k in ("TransitGatewayId", "VpcPeeringConnectionId", "NetworkInterfaceId",
                                        "InstanceId", "GatewayId") if default.get(k)), "an unknown target")  # fmt: skip
    return Reach(True, f"the default route of subnet {subnet_id} goes to {target}, which the launcher cannot check",
                 unchecked=True)


def _egress_on_https(ec2: Any, group_ids: list[str]) -> bool | None:
    """True: 443 open to anywhere or an S3 prefix list; None: only to some addresses; False: not at all."""
    if not group_ids:
        return True  # the VPC's default group allows all outbound traffic
    found: bool | None = False
    for group in ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]:
        for rule in group.get("IpPermissionsEgress", []):
            covers = rule.get("IpProtocol") == "-1" or (
                rule.get("IpProtocol") in ("tcp", "6") and rule.get("FromPort", 0) <= HTTPS <= rule.get("ToPort", -1)
            )
            if not covers:
                continue
            anywhere = any(r.get("CidrIp") == "0.0.0.0/0" for r in rule.get("IpRanges", []))
            if anywhere or rule.get("PrefixListIds"):
                return True
            if rule.get("IpRanges") or rule.get("Ipv6Ranges") or rule.get("UserIdGroupPairs"):
                found = None
    return found


def route_table(ec2: Any, subnet_id: str, vpc_id: str) -> dict[str, Any] | None:
    """The subnet's route table: the one explicitly associated with it, else its VPC's main one (VPC user guide,
    "Subnet route tables"). One look at the VPC's tables, for both."""
    pages = ec2.get_paginator("describe_route_tables").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    tables = [table for page in pages for table in page["RouteTables"]]
    for associated in (lambda a: a.get("SubnetId") == subnet_id, lambda a: a.get("Main", False)):
        found = next((t for t in tables if any(associated(a) for a in t.get("Associations", []))), None)
        if found is not None:
            return found
    return None


def _has_s3_endpoint(ec2: Any, vpc_id: str, route_table_id: str, region: str) -> bool:
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    return any(
        e.get("ServiceName") == f"com.amazonaws.{region}.s3"
        and e.get("VpcEndpointType", "Gateway") == "Gateway"
        and e.get("State", "available").lower() == "available"
        and route_table_id in e.get("RouteTableIds", [])
        for e in endpoints
    )
