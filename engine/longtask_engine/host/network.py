"""The network of local instances, routed as a VPC routes it: S3 and the internet only where AWS would reach them.

- A fresh account's default VPC has an internet gateway and a `0.0.0.0/0 -> igw` route in its main route table
  (VPC user guide, "Default VPCs"); moto's has only the local route, so the engine adds them.
- An instance's traffic to S3 follows the most specific route of its subnet's route table (the explicitly
  associated one, else the VPC's main one): an S3 gateway endpoint's prefix-list route, else the default route
  (VPC user guide, "Route priority", "Gateway endpoints for Amazon S3"). Through an internet gateway it leaves
  only with a public IPv4 address; through a NAT gateway it always does. A target the engine has nothing behind
  (a transit gateway, a peering, a NAT instance) reaches nothing.
- Its security groups must allow outbound TCP 443 to anywhere or to a prefix list.
- Its SSM agent reaches SSM over the internet or through interface endpoints for ssm, ssmmessages and ec2messages
  (Systems Manager user guide, "Improve the security of EC2 instances by using VPC endpoints"), not through S3's.
Each instance reaches the AWS APIs through its own link (InstanceLink); where S3 is unreachable, or once the
network is down at shutdown, the link accepts connections and never answers, so calls hang and time out as on AWS.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from longtask.common.network import route_table, ssm_reach

HTTPS = 443
LOOPBACK = "127.0.0.1"


def give_default_vpc_an_internet_gateway(ec2: Any) -> None:
    """Make the default VPC look like a fresh account's: an attached internet gateway and a default route to it."""
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    for vpc in vpcs:
        attached = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}]
        )["InternetGateways"]
        if attached:
            gateway_id = attached[0]["InternetGatewayId"]
        else:
            gateway_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc["VpcId"])
        main = _main_route_table(ec2, vpc["VpcId"])
        if main and not any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in main.get("Routes", [])):
            ec2.create_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway_id)


def s3_unreachable_reason(ec2: Any, instance: dict[str, Any]) -> str | None:
    """None when the instance's packets to S3 get out; else why they do not."""
    blocked = _https_blocked(ec2, instance, "S3")
    if blocked:
        return blocked
    routes = _routes(ec2, instance)
    if any(r.get("DestinationPrefixListId") and r.get("GatewayId", "").startswith("vpce-") for r in routes):
        return None
    return _internet_unreachable_reason(routes, instance)


def ssm_unreachable_reason(ec2: Any, instance: dict[str, Any]) -> str | None:
    """None when the instance's SSM agent reaches SSM: over the internet, or through interface endpoints for ssm,
    ssmmessages and ec2messages in its subnet (the doctor's model: common/network.ssm_reach). An S3 gateway
    endpoint does not reach it."""
    blocked = _https_blocked(ec2, instance, "SSM")
    if blocked:
        return blocked
    if internet_unreachable_reason(ec2, instance) is None:
        return None
    subnet = {"SubnetId": instance["SubnetId"], "VpcId": instance["VpcId"]}
    reach = ssm_reach(ec2, subnet, public_ip=bool(instance.get("PublicIpAddress")))
    return None if reach.reachable else reach.note


def internet_unreachable_reason(ec2: Any, instance: dict[str, Any]) -> str | None:
    """None when the instance reaches the internet (public IP + internet gateway, or a NAT gateway)."""
    return _internet_unreachable_reason(_routes(ec2, instance), instance)


def _routes(ec2: Any, instance: dict[str, Any]) -> list[dict[str, Any]]:
    """The routes of the instance's subnet's route table (its own, else its VPC's main one)."""
    return (route_table(ec2, instance["SubnetId"], instance["VpcId"]) or {}).get("Routes", [])


def _internet_unreachable_reason(routes: list[dict[str, Any]], instance: dict[str, Any]) -> str | None:
    default = next((r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"), None)
    if default is None:
        return "its route table has no default route and no S3 gateway endpoint"
    if default.get("NatGatewayId"):
        return None
    if default.get("GatewayId", "").startswith("igw-"):
        public = instance.get("PublicIpAddress")
        return None if public else "it has no public IP and its default route goes to an internet gateway"
    keys = ("TransitGatewayId", "VpcPeeringConnectionId", "NetworkInterfaceId", "InstanceId", "GatewayId")
    target = next((default[key] for key in keys if default.get(key)), "a target")
    return f"its default route goes to {target}, with nothing behind it on this machine"


def _https_blocked(ec2: Any, instance: dict[str, Any], service: str) -> str | None:
    """Why the instance's security groups keep its HTTPS from `service`, or None."""
    groups = [g["GroupId"] for g in instance.get("SecurityGroups", [])]
    if groups and not _allows_https_out(ec2, groups):
        return f"its security groups {', '.join(groups)} allow no outbound TCP {HTTPS} to {service}"
    return None


def _allows_https_out(ec2: Any, group_ids: list[str]) -> bool:
    for group in ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]:
        for rule in group.get("IpPermissionsEgress", []):
            protocol, low, high = rule.get("IpProtocol"), rule.get("FromPort", 0), rule.get("ToPort", -1)
            ports = protocol == "-1" or (protocol in ("tcp", "6") and low <= HTTPS <= high)
            anywhere = any(r.get("CidrIp") == "0.0.0.0/0" for r in rule.get("IpRanges", []))
            if ports and (anywhere or rule.get("PrefixListIds")):
                return True
    return False


def _main_route_table(ec2: Any, vpc_id: str) -> dict[str, Any] | None:
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]
    return tables[0] if tables else None


class InstanceLink:
    """An instance's way to the AWS APIs: a loopback relay to the engine that can be cut.

    While up it relays each TCP connection to the engine (TLS passes through); cut (no route to S3, or the
    network going down at shutdown) it accepts connections and never answers, so calls hang and time out
    as they do on AWS."""

    def __init__(self, engine_port: int, up: bool = True) -> None:
        self.engine_port = engine_port
        self._up = threading.Event()
        if up:
            self._up.set()
        self._server = socket.create_server((LOOPBACK, 0), backlog=128)
        self._held: list[socket.socket] = []  # the open connections, both ends (added to by the relay threads)
        self._held_lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"https://{LOOPBACK}:{self._server.getsockname()[1]}"

    def cut(self) -> None:
        """The network goes down: nothing passes any more, on new connections or open ones."""
        self._up.clear()

    def close(self) -> None:
        self.cut()
        self._server.close()
        with self._held_lock:
            for connection in self._held:
                connection.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self._hold(connection)
            if self._up.is_set():
                threading.Thread(target=self._relay, args=(connection,), daemon=True).start()

    def _relay(self, connection: socket.socket) -> None:
        try:
            upstream = socket.create_connection((LOOPBACK, self.engine_port))
        except OSError:
            connection.close()
            return
        self._hold(upstream)
        for source, target in ((connection, upstream), (upstream, connection)):
            threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _hold(self, connection: socket.socket) -> None:
        with self._held_lock:
            self._held = [held for held in self._held if held.fileno() != -1] + [connection]

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        """Pass bytes on while the network is up; once it is cut they are lost, and the peers wait."""
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if self._up.is_set():
                    target.sendall(data)
            if self._up.is_set():
                target.shutdown(socket.SHUT_WR)
