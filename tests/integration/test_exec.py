"""`longtask exec` through SSM Run Command on the engine: a command beside the running script sees the run's
variables and returns its output and exit code; long output comes from S3; an ended run, or an instance whose role
lacks the SSM agent's permissions, gets an error that says why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .engine_session import STACK
from .support import assert_final


@contextmanager
def running(client: LongTaskClient, run_input: dict[str, Any]) -> Iterator[str]:
    run_id = client.start(run_input)
    try:
        assert poll_condition(lambda: (client.item(run_id) or {}).get("status") == "RUNNING", 60)
        yield run_id
    finally:
        if not client.is_final(run_id):
            client.abort(run_id)


def test_exec_runs_beside_the_script_with_the_runs_variables(client: LongTaskClient, longtask: Any) -> None:
    with running(client, {"script": "sleep 60\n", "env": {"GREETING": "hello there"}}) as run_id:
        command = ('echo "$GREETING from $LONGTASK_RUN_ID"; pgrep -f "sleep 60" >/dev/null && '
                   'echo "the script sleeps"; echo oops >&2; exit 7')
        result = longtask("exec", run_id, "--stack", STACK, "--", "bash", "-c", command)
        assert result.exit_code == 7, result.stderr
        assert result.stdout == f"hello there from {run_id}\nthe script sleeps\n"
        assert "oops" in result.stderr
        instance_id = client.record(run_id)["instanceId"]
        listed = client.target.client("ssm").list_command_invocations(InstanceId=instance_id)["CommandInvocations"]
        assert [(i["InstanceId"], i["Status"]) for i in listed] == [(instance_id, "Failed")]  # exit 7


def test_exec_output_longer_than_ssm_returns_is_read_from_s3(client: LongTaskClient) -> None:
    with running(client, {"script": "sleep 60\n"}) as run_id:
        invocation = client.exec(run_id, "head -c 30000 /dev/zero | tr '\\\\0' x")
        assert (invocation.exit_code, len(invocation.stdout)) == (0, 30_000)


def test_exec_on_an_ended_run_says_its_status(client: LongTaskClient, longtask: Any) -> None:
    run_id = client.start({"script": "true\n"})
    assert_final(client, run_id, "SUCCEEDED")
    refused = longtask("exec", run_id, "--stack", STACK, "--", "true")
    assert refused.exit_code == 2
    said = f"run {run_id} is SUCCEEDED: exec reaches a run's instance only while it is RUNNING or HOLDING"
    assert said in " ".join(refused.stderr.split())


@pytest.mark.exclusive  # the stack's instance role loses the SSM agent's permissions for a while
def test_exec_into_an_instance_whose_role_lacks_the_agents_permissions_says_why(client: LongTaskClient,
                                                                                longtask: Any) -> None:  # fmt: skip
    iam = client.target.client("iam")
    role = client.target.client("cloudformation").describe_stack_resource(
        StackName=client.target.stack_name, LogicalResourceId="InstanceRole",
    )["StackResourceDetail"]["PhysicalResourceId"]  # fmt: skip
    document = iam.get_role_policy(RoleName=role, PolicyName="RunCommandsAndSessions")["PolicyDocument"]
    iam.delete_role_policy(RoleName=role, PolicyName="RunCommandsAndSessions")
    try:
        with running(client, {"script": "sleep 60\n"}) as run_id:
            refused = longtask("exec", run_id, "--stack", STACK, "--", "true")
            assert refused.exit_code == 2
            said = " ".join(refused.stderr.split())
            assert "is not registered with SSM" in said and "ssmmessages" in said
    finally:
        iam.put_role_policy(RoleName=role, PolicyName="RunCommandsAndSessions", PolicyDocument=json.dumps(document))


def test_exec_into_an_instance_that_reaches_s3_but_not_ssm_says_why(client: LongTaskClient, longtask: Any) -> None:
    """A private subnet with an S3 gateway endpoint only: the run works, but no SSM agent can register."""
    ec2 = client.target.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="172.31.250.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    association = ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)["AssociationId"]
    endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{ec2.meta.region_name}.s3",
                                       VpcEndpointType="Gateway", RouteTableIds=[table])["VpcEndpoint"]  # fmt: skip
    try:
        with running(client, {"script": "sleep 60\n", "subnetIds": [subnet]}) as run_id:
            refused = longtask("exec", run_id, "--stack", STACK, "--", "true")
            assert refused.exit_code == 2
            assert "is not registered with SSM" in " ".join(refused.stderr.split())
            instance_id = client.record(run_id)["instanceId"]
            with pytest.raises(ClientError, match="TargetNotConnected"):
                client.target.client("ssm").start_session(Target=instance_id)
    finally:
        ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
        ec2.disassociate_route_table(AssociationId=association)
        ec2.delete_route_table(RouteTableId=table)
        ec2.delete_subnet(SubnetId=subnet)
