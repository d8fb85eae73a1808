"""A fixed egress IP on the engine: runs of a stack with a pool of one Elastic IP take turns with it (one waits,
both succeed), the instance has it before the script starts, the record shows it, and it is back in the pool
after every end; the engine refuses AssociateAddress where EC2 does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from longtask_engine.host import engine
from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient
from longtask.common.queues import Queues
from longtask.waiting import poll_condition

from .engine_session import ADDRESS_STACK, PARAMETERS
from .support import assert_final, default_image, live_instances

pytestmark = pytest.mark.in_turn  # one pool of one address, one stack: its tests one after another
POOL_TAG = {"Key": "longtask-it", "Value": "address-pool"}


@pytest.fixture(scope="module")
def pool(client: LongTaskClient) -> dict[str, str]:
    """The pool's one address (kept between sessions: a new one would redeploy the stack)."""
    ec2 = client.target.client("ec2")
    found = ec2.describe_addresses(Filters=[{"Name": f"tag:{POOL_TAG['Key']}", "Values": [POOL_TAG["Value"]]}])
    if found["Addresses"]:
        address = found["Addresses"][0]
    else:
        address = ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip",
                                                                         "Tags": [POOL_TAG]}])  # fmt: skip
    return {"allocationId": address["AllocationId"], "publicIp": address["PublicIp"]}


@pytest.fixture(scope="module")
def address_client(client: LongTaskClient, pool: dict[str, str]) -> LongTaskClient:
    return engine.connect(ADDRESS_STACK, {**PARAMETERS, "ElasticIpAllocationIds": pool["allocationId"]},
                          EnginePaths.default())  # fmt: skip


def held(client: LongTaskClient) -> dict[str, str]:
    """The pool's claims (allocation id -> run), and whether EC2 has the address associated."""
    return Queues(client.dynamodb, client.stack.queues_table).address_holders()


def associated(client: LongTaskClient, allocation_id: str) -> bool:
    described = client.target.client("ec2").describe_addresses(AllocationIds=[allocation_id])["Addresses"][0]
    return bool(described.get("AssociationId"))


def test_two_runs_with_a_pool_of_one_take_turns_and_both_succeed(address_client: LongTaskClient,
                                                                   pool: dict[str, str]) -> None:  # fmt: skip
    first = address_client.start({"script": "sleep 4\n", "elasticIp": True})
    assert poll_condition(lambda: (address_client.item(first) or {}).get("status") == "RUNNING", 60)
    second = address_client.start({"script": "echo second\n", "elasticIp": True})
    assert poll_condition(lambda: (address_client.item(second) or {}).get("status") == "QUEUED", 30)
    assert "Elastic IPs: all 1 held" in address_client.item(second)["waitReason"]
    records = [assert_final(address_client, run_id, "SUCCEEDED") for run_id in (first, second)]
    assert [r["publicIp"] for r in records] == [pool["publicIp"]] * 2
    assert records[0]["finishedAt"] <= records[1]["launchedAt"]  # never at once
    for record in records:
        log = address_client.s3.get_object(Bucket=address_client.stack.bucket,
                                           Key=f"runs/{record['runId']}/cloud-init-output.log")["Body"].read()
        assert f"longtask: the instance egresses from the Elastic IP {pool['publicIp']}".encode() in log
    assert poll_condition(lambda: held(address_client) == {} and not associated(address_client, pool["allocationId"]),
                          20)  # fmt: skip


@pytest.mark.parametrize(("ending", "status"), [
    ({"script": "true\n"}, "SUCCEEDED"),
    ({"script": "exit 3\n"}, "FAILED"),
    ({"script": "sleep 60\n", "timeoutSeconds": 3}, "TIMED_OUT"),
    ({"script": "sleep 60\n"}, "ABORTED"),
])  # fmt: skip
def test_the_address_is_back_in_the_pool_after_every_end(address_client: LongTaskClient, pool: dict[str, str],
                                                         ending: dict[str, Any], status: str) -> None:  # fmt: skip
    run_id = address_client.start({**ending, "elasticIp": True})
    assert poll_condition(lambda: held(address_client) == {pool["allocationId"]: run_id}, 60)
    if status == "ABORTED":
        assert poll_condition(lambda: (address_client.item(run_id) or {}).get("status") == "RUNNING", 60)
        address_client.abort(run_id)
    assert_final(address_client, run_id, status)
    assert poll_condition(lambda: held(address_client) == {} and not associated(address_client, pool["allocationId"]),
                          20)  # fmt: skip


def test_an_address_outside_the_stacks_pool_is_refused_and_launches_nothing(address_client: LongTaskClient) -> None:
    run_id = address_client.start({"script": "true\n", "elasticIpAllocationIds": ["eipalloc-0123456789abcdef0"]})
    record = assert_final(address_client, run_id, "INVALID_INPUT")
    assert "eipalloc-0123456789abcdef0 not in the stack's ElasticIpAllocationIds" in record["reason"]
    assert live_instances(address_client, run_id) == []


@pytest.fixture
def instances(client: LongTaskClient) -> Iterator[list[str]]:
    launched: list[str] = []
    yield launched
    if launched:
        client.target.client("ec2").terminate_instances(InstanceIds=launched)


def raw_instance(client: LongTaskClient, subnet_id: str, launched: list[str]) -> str:
    """An instance with no user data (it powers nothing off), terminated by the test's end."""
    ec2 = client.target.client("ec2")
    instance_id = ec2.run_instances(ImageId=default_image(client), InstanceType="t3a.nano", MinCount=1, MaxCount=1,
                                    SubnetId=subnet_id)["Instances"][0]["InstanceId"]  # fmt: skip
    launched.append(instance_id)
    return instance_id


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"]


def test_ec2_refuses_an_association_where_aws_does(client: LongTaskClient, instances: list[str]) -> None:
    ec2 = client.target.client("ec2")
    address = ec2.allocate_address(Domain="vpc")["AllocationId"]
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    isolated = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    default = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]["SubnetId"]
    try:
        behind_nothing = raw_instance(client, isolated, instances)
        assert error_code(ec2.associate_address, AllocationId=address, InstanceId=behind_nothing) == (
            "Gateway.NotAttached")  # fmt: skip
        first, second = raw_instance(client, default, instances), raw_instance(client, default, instances)
        ec2.associate_address(AllocationId=address, InstanceId=first, AllowReassociation=False)
        assert error_code(ec2.associate_address, AllocationId=address, InstanceId=second,
                          AllowReassociation=False) == "Resource.AlreadyAssociated"  # fmt: skip
        ec2.associate_address(AllocationId=address, InstanceId=second, AllowReassociation=True)
        described = ec2.describe_addresses(AllocationIds=[address])["Addresses"][0]
        assert described["InstanceId"] == second
        ec2.terminate_instances(InstanceIds=[second])
        assert poll_condition(lambda: not ec2.describe_addresses(AllocationIds=[address])["Addresses"][0].get(
            "AssociationId"), 30)  # terminated: EC2 disassociates it  # fmt: skip
    finally:
        ec2.release_address(AllocationId=address)
