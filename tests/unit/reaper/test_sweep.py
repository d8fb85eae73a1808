"""The reaper against moto: what it terminates, what it leaves alone, and the Runs items it settles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from reaper.sweep import settle_ended_execution, settle_orphaned_runs, sweep

from longtask.template_file import load_template

from ..conftest import REGION

ROOT = Path(__file__).resolve().parents[3]
TABLE, STACK = "runs", "longtask-test"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
GRACE = timedelta(minutes=15)


@pytest.fixture
def clients() -> Iterator[dict[str, Any]]:
    with mock_aws():
        clients = {name: boto3.client(name, region_name=REGION) for name in ("ec2", "stepfunctions", "dynamodb")}
        table = load_template(ROOT / "template.yaml")["Resources"]["RunsTable"]["Properties"]  # its one schema
        clients["dynamodb"].create_table(
            TableName=TABLE,
            **{key: table[key] for key in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes")},
            BillingMode=table["BillingMode"],
        )
        definition = '{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}'
        clients["machine"] = clients["stepfunctions"].create_state_machine(
            name="longtask", definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        yield clients


def start_run(clients: dict[str, Any], run_id: str, deadline: datetime, stack: str = STACK) -> tuple[str, str]:
    """An execution, its RUNNING item and its tagged instance; returns (execution ARN, instance id)."""
    arn = clients["stepfunctions"].start_execution(stateMachineArn=clients["machine"], name=run_id)["executionArn"]
    tags = {"longtask:run-id": run_id, "longtask:execution-arn": arn, "longtask:stack": stack,
            "longtask:deadline": deadline.strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip
    instance_id = clients["ec2"].run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
    )["Instances"][0]["InstanceId"]  # fmt: skip
    item = {"runId": {"S": run_id}, "status": {"S": "RUNNING"}, "executionArn": {"S": arn}}
    clients["dynamodb"].put_item(TableName=TABLE, Item=item)
    return arn, instance_id


def state(clients: dict[str, Any], instance_id: str) -> str:
    reservation = clients["ec2"].describe_instances(InstanceIds=[instance_id])["Reservations"][0]
    return reservation["Instances"][0]["State"]["Name"]


def status(clients: dict[str, Any], run_id: str) -> str:
    return clients["dynamodb"].get_item(TableName=TABLE, Key={"runId": {"S": run_id}})["Item"]["status"]["S"]


def test_an_instance_whose_execution_stopped_is_terminated_and_its_run_aborted(clients: dict[str, Any]) -> None:
    arn, instance_id = start_run(clients, "run-1", NOW + timedelta(hours=1))
    clients["stepfunctions"].stop_execution(executionArn=arn)
    reaped = sweep(clients, TABLE, STACK, NOW, GRACE)
    assert [(r["instanceId"], r["status"], r["settled"]) for r in reaped] == [(instance_id, "ABORTED", True)]
    assert state(clients, instance_id) in ("shutting-down", "terminated")
    assert status(clients, "run-1") == "ABORTED"


def test_a_running_run_within_its_deadline_is_left_alone(clients: dict[str, Any]) -> None:
    _, instance_id = start_run(clients, "run-2", NOW + timedelta(hours=1))
    assert sweep(clients, TABLE, STACK, NOW, GRACE) == []
    assert state(clients, instance_id) == "running"
    assert status(clients, "run-2") == "RUNNING"


def test_a_deadline_long_past_times_the_run_out(clients: dict[str, Any]) -> None:
    _, instance_id = start_run(clients, "run-3", NOW - GRACE - timedelta(seconds=1))
    (reaped,) = sweep(clients, TABLE, STACK, NOW, GRACE)
    assert (reaped["instanceId"], reaped["status"]) == (instance_id, "TIMED_OUT")
    assert status(clients, "run-3") == "TIMED_OUT"


def test_a_deadline_within_the_grace_is_left_alone(clients: dict[str, Any]) -> None:
    start_run(clients, "run-4", NOW - GRACE + timedelta(seconds=1))
    assert sweep(clients, TABLE, STACK, NOW, GRACE) == []


def test_another_stacks_instances_are_never_touched(clients: dict[str, Any]) -> None:
    arn, instance_id = start_run(clients, "run-5", NOW - timedelta(days=1), stack="someone-else")
    clients["stepfunctions"].stop_execution(executionArn=arn)
    assert sweep(clients, TABLE, STACK, NOW, GRACE) == []
    assert state(clients, instance_id) == "running"


def test_a_final_item_is_not_overwritten(clients: dict[str, Any]) -> None:
    arn, _ = start_run(clients, "run-6", NOW + timedelta(hours=1))
    clients["dynamodb"].put_item(TableName=TABLE, Item={"runId": {"S": "run-6"}, "status": {"S": "SUCCEEDED"}})
    clients["stepfunctions"].stop_execution(executionArn=arn)
    (reaped,) = sweep(clients, TABLE, STACK, NOW, GRACE)
    assert reaped["settled"] is False
    assert status(clients, "run-6") == "SUCCEEDED"


def test_a_run_recorded_running_after_its_execution_ended_is_settled(clients: dict[str, Any]) -> None:
    arn, instance_id = start_run(clients, "run-7", NOW + timedelta(hours=1))
    clients["ec2"].terminate_instances(InstanceIds=[instance_id])
    clients["stepfunctions"].stop_execution(executionArn=arn)
    assert settle_orphaned_runs(clients, TABLE, NOW) == ["run-7"]
    assert status(clients, "run-7") == "ABORTED"


def test_the_status_change_event_settles_its_run(clients: dict[str, Any]) -> None:
    start_run(clients, "run-8", NOW + timedelta(hours=1))
    assert settle_ended_execution(clients["dynamodb"], TABLE, {"name": "run-8", "status": "TIMED_OUT"}, NOW)
    assert status(clients, "run-8") == "TIMED_OUT"
    assert not settle_ended_execution(clients["dynamodb"], TABLE, {"name": "run-8", "status": "ABORTED"}, NOW)


def test_orphans_are_found_through_the_status_index_without_a_scan(clients: dict[str, Any]) -> None:
    calls: list[str] = []
    clients["dynamodb"].meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    settle_orphaned_runs(clients, TABLE, NOW)
    assert "Scan" not in calls and "Query" in calls


def test_a_settled_run_expires_with_its_logs(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from reaper.sweep import settle

    monkeypatch.setenv("RUN_RETENTION_DAYS", "30")
    clients["dynamodb"].put_item(TableName=TABLE, Item={"runId": {"S": "r1"}, "status": {"S": "RUNNING"}})
    assert settle(clients["dynamodb"], TABLE, "r1", "ABORTED", "test", NOW)
    item = clients["dynamodb"].get_item(TableName=TABLE, Key={"runId": {"S": "r1"}})["Item"]
    assert int(item["expiresAt"]["N"]) == int((NOW + timedelta(days=30)).timestamp())
