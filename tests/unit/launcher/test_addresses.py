"""Elastic IPs against moto: a run claims one address of its pool with its slot, no two runs hold the same one, a
run waits when all are held, and giving the slot back gives the address back; the pool is checked before launch."""

from __future__ import annotations

from typing import Any

import pytest
from common.queues import Queues
from launcher.addresses import Address, associate, pool_of
from launcher.errors import InvalidInput
from launcher.queueing import Queued

from .test_queueing import NANO, gate, launches

POOL = [Address("eipalloc-00000000000000001", "198.51.100.1", False)]


def test_runs_take_turns_with_a_pool_of_one(aws: dict[str, Any], queues: Queues) -> None:
    gate(aws, queues, "run-1").launch(NANO, launches("i-1"), POOL)
    assert queues.address_holders() == {"eipalloc-00000000000000001": "run-1"}
    with pytest.raises(Queued, match=r"Elastic IPs: all 1 held \(198.51.100.1\)") as waiting:
        gate(aws, queues, "run-2").launch(NANO, launches("i-2"), POOL)
    assert not waiting.value.for_slot  # a timer, or a slot given back in its queue, wakes it
    assert queues.slot("q", "run-2") is None  # its slot went back when it could not hold an address
    assert queues.release("q", "run-1")
    assert queues.address_holders() == {}
    gate(aws, queues, "run-2").launch(NANO, launches("i-2"), POOL)
    assert queues.address_holders() == {"eipalloc-00000000000000001": "run-2"}


def test_a_retried_launch_keeps_its_address(aws: dict[str, Any], queues: Queues) -> None:
    two = [*POOL, Address("eipalloc-00000000000000002", "198.51.100.2", False)]
    gate(aws, queues, "run-1").launch(NANO, launches("i-1"), two)
    assert queues.acquire("q", "run-1", "arn", 2) is None
    assert queues.claim_address("q", "run-1", ["eipalloc-00000000000000002"]) == "eipalloc-00000000000000001"


def test_an_address_associated_elsewhere_is_not_taken(aws: dict[str, Any], queues: Queues) -> None:
    with pytest.raises(Queued, match="all 1 held"):
        gate(aws, queues, "run-1").launch(NANO, launches("i-1"), [Address("eipalloc-00000000000000001",
                                                                          "198.51.100.1", True)])  # fmt: skip


def test_the_pool_is_checked_before_launch(aws: dict[str, Any]) -> None:
    ec2 = aws["ec2"]
    real = ec2.allocate_address(Domain="vpc")
    assert pool_of(ec2, [], [real["AllocationId"]]) == []
    assert pool_of(ec2, ["*"], [real["AllocationId"]]) == [Address(real["AllocationId"], real["PublicIp"], False)]
    with pytest.raises(InvalidInput, match="the stack has no Elastic IPs to give; deploy it with ElasticIpAllocation"):
        pool_of(ec2, ["*"], [])
    with pytest.raises(InvalidInput, match="eipalloc-0123456789abcdef0 not in the stack's ElasticIpAllocationIds"):
        pool_of(ec2, ["eipalloc-0123456789abcdef0"], [real["AllocationId"]])
    with pytest.raises(InvalidInput, match=r"elasticIpAllocationIds: .*eipalloc-0123456789abcdef0"):
        pool_of(ec2, ["eipalloc-0123456789abcdef0"], ["eipalloc-0123456789abcdef0"])  # in the pool, not in EC2


class Pending:
    """EC2 refusing an instance still pending, then associating it."""

    def __init__(self, refusals: int) -> None:
        self.refusals, self.calls = refusals, 0

    def associate_address(self, **request: Any) -> None:
        from botocore.exceptions import ClientError

        self.calls += 1
        assert request["AllowReassociation"] is False
        if self.calls <= self.refusals:
            raise ClientError({"Error": {"Code": "IncorrectInstanceState", "Message": "pending"}}, "AssociateAddress")


def test_the_address_is_associated_once_the_instance_runs() -> None:
    ec2 = Pending(refusals=3)
    associate(ec2, "eipalloc-1", "i-1", sleep=lambda _: None)
    assert ec2.calls == 4
