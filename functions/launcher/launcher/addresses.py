"""A run's fixed egress IP: an Elastic IP from the stack's pool (ElasticIpAllocationIds), claimed with the run's
queue slot (common/queues.py) so that two runs never hold one address, associated with the instance once it runs,
and given back with the slot when the instance has ended (it is disassociated then:
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/elastic-ip-addresses-eip.html)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .errors import InvalidInput

ASSOCIATE_SECONDS = 90  # how long a launch waits for its instance to leave `pending` (EC2 associates a running one)
# EC2 refuses a pending instance (IncorrectInstanceState) and may not know a new one yet (eventual consistency)
NOT_YET = ("IncorrectInstanceState", "InvalidInstanceID.NotFound")


@dataclass(frozen=True)
class Address:
    allocation_id: str
    public_ip: str
    associated: bool  # with anything now: an instance still shutting down, or a resource outside the stack


def pool_of(ec2: Any, wanted: list[str], stack_pool: list[str]) -> list[Address]:
    """The run's pool as EC2 describes it: `wanted` (or the whole stack's pool when `wanted` is ["*"]), each in the
    stack's pool and existing; InvalidInput naming what is not."""
    if not wanted:
        return []
    if not stack_pool:
        raise InvalidInput("elasticIp: the stack has no Elastic IPs to give; deploy it with ElasticIpAllocationIds "
                           "(allocation ids of addresses kept for runs)")  # fmt: skip
    chosen = stack_pool if wanted == ["*"] else wanted
    outside = [allocation for allocation in chosen if allocation not in stack_pool]
    if outside:
        raise InvalidInput(f"elasticIpAllocationIds: {', '.join(outside)} not in the stack's ElasticIpAllocationIds "
                           f"({', '.join(stack_pool)}); add them there and deploy")  # fmt: skip
    try:
        described = ec2.describe_addresses(AllocationIds=chosen)["Addresses"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "InvalidAllocationID.NotFound":
            raise
        raise InvalidInput(f"elasticIpAllocationIds: {error.response['Error']['Message']} "
                           f"({ec2.meta.region_name})") from None  # fmt: skip
    return [Address(a["AllocationId"], a["PublicIp"], bool(a.get("AssociationId"))) for a in described]


def pool_refusal(pool: list[Address]) -> str:
    """Why a run waits for an address, in words."""
    return f"Elastic IPs: all {len(pool)} held ({', '.join(a.public_ip for a in pool)})"


def associate(ec2: Any, allocation_id: str, instance_id: str, sleep: Callable[[float], None] = time.sleep,
              seconds: float = ASSOCIATE_SECONDS) -> None:  # fmt: skip
    """Associate the address with the instance once it runs; never take it from another resource
    (AllowReassociation false: EC2 answers Resource.AlreadyAssociated)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            ec2.associate_address(AllocationId=allocation_id, InstanceId=instance_id, AllowReassociation=False)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] not in NOT_YET or time.monotonic() > deadline:
                raise
        sleep(2)
