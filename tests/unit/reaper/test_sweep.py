"""The reaper against moto: what it terminates, what it leaves alone, and the Runs items it settles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from common.queues import Queues
from common.record import from_item
from common.timestamps import iso_utc
from moto import mock_aws
from reaper.sweep import (
    Executions,
    announce,
    reap_execution,
    reap_late_launch,
    reclaim_slots,
    settle_orphaned_runs,
    settle_run,
    sweep,
)

from ..conftest import QUEUES_TABLE as QUEUES
from ..conftest import REGION, create_runs_table, create_table

TABLE, STACK = "runs", "longtask-test"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
GRACE = timedelta(minutes=15)
RETENTION = 90


@pytest.fixture
def clients() -> Iterator[dict[str, Any]]:
    with mock_aws():
        names = ("ec2", "stepfunctions", "dynamodb", "events")
        clients = {name: boto3.client(name, region_name=REGION) for name in names}
        create_runs_table(clients["dynamodb"], TABLE)
        create_table(clients["dynamodb"], "QueuesTable", QUEUES)
        clients["queues"] = Queues(clients["dynamodb"], QUEUES, clients["stepfunctions"])
        definition = '{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}'
        clients["machine"] = clients["stepfunctions"].create_state_machine(
            name="longtask", definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        yield clients


def start_run(clients: dict[str, Any], run_id: str, deadline: datetime, stack: str = STACK) -> tuple[str, str]:
    """An execution, its RUNNING item and its tagged instance; returns (execution ARN, instance id)."""
    arn = clients["stepfunctions"].start_execution(stateMachineArn=clients["machine"], name=run_id)["executionArn"]
    tags = {"longtask:run-id": run_id, "longtask:execution-arn": arn, "longtask:stack": stack,
            "longtask:deadline": iso_utc(deadline)}  # fmt: skip
    instance_id = clients["ec2"].run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
    )["Instances"][0]["InstanceId"]  # fmt: skip
    item = {"runId": {"S": run_id}, "status": {"S": "RUNNING"}, "executionArn": {"S": arn}}
    clients["dynamodb"].put_item(TableName=TABLE, Item=item)
    return arn, instance_id


def executions(clients: dict[str, Any]) -> Executions:
    """What one sweep knows of the executions (each sweep lists them afresh)."""
    return Executions(clients["stepfunctions"], clients["machine"])


def state(clients: dict[str, Any], instance_id: str) -> str:
    reservation = clients["ec2"].describe_instances(InstanceIds=[instance_id])["Reservations"][0]
    return reservation["Instances"][0]["State"]["Name"]


def status(clients: dict[str, Any], run_id: str) -> str:
    return clients["dynamodb"].get_item(TableName=TABLE, Key={"runId": {"S": run_id}})["Item"]["status"]["S"]


def test_an_instance_whose_execution_stopped_is_terminated_and_its_run_aborted(clients: dict[str, Any]) -> None:
    arn, instance_id = start_run(clients, "run-1", NOW + timedelta(hours=1))
    clients["stepfunctions"].stop_execution(executionArn=arn)
    reaped = sweep(clients, executions(clients), TABLE, STACK, NOW, GRACE, RETENTION)
    assert [(r["instanceId"], r["settled"]) for r in reaped] == [(instance_id, True)]
    assert state(clients, instance_id) in ("shutting-down", "terminated")
    assert status(clients, "run-1") == "ABORTED"


def test_a_running_run_within_its_deadline_is_left_alone(clients: dict[str, Any]) -> None:
    _, instance_id = start_run(clients, "run-2", NOW + timedelta(hours=1))
    assert sweep(clients, executions(clients), TABLE, STACK, NOW, GRACE, RETENTION) == []
    assert state(clients, instance_id) == "running"
    assert status(clients, "run-2") == "RUNNING"


def test_a_deadline_long_past_terminates_the_instance_and_leaves_the_record_to_the_workflow(
    clients: dict[str, Any],
) -> None:
    _, instance_id = start_run(clients, "run-3", NOW - GRACE - timedelta(seconds=1))
    (reaped,) = sweep(clients, executions(clients), TABLE, STACK, NOW, GRACE, RETENTION)
    assert (reaped["instanceId"], reaped["settled"]) == (instance_id, False)
    assert state(clients, instance_id) in ("shutting-down", "terminated")
    assert status(clients, "run-3") == "RUNNING"  # its execution still runs: the workflow records the run


def test_a_deadline_within_the_grace_is_left_alone(clients: dict[str, Any]) -> None:
    start_run(clients, "run-4", NOW - GRACE + timedelta(seconds=1))
    assert sweep(clients, executions(clients), TABLE, STACK, NOW, GRACE, RETENTION) == []


def test_another_stacks_instances_are_never_touched(clients: dict[str, Any]) -> None:
    arn, instance_id = start_run(clients, "run-5", NOW - timedelta(days=1), stack="someone-else")
    clients["stepfunctions"].stop_execution(executionArn=arn)
    assert sweep(clients, executions(clients), TABLE, STACK, NOW, GRACE, RETENTION) == []
    assert reap_execution(clients, clients["queues"], TABLE, STACK, arn, NOW, RETENTION)["terminated"] == []
    assert state(clients, instance_id) == "running"


def test_a_final_item_is_not_overwritten(clients: dict[str, Any]) -> None:
    arn, _ = start_run(clients, "run-6", NOW + timedelta(hours=1))
    clients["dynamodb"].put_item(TableName=TABLE, Item={"runId": {"S": "run-6"}, "status": {"S": "SUCCEEDED"}})
    clients["stepfunctions"].stop_execution(executionArn=arn)
    (reaped,) = sweep(clients, executions(clients), TABLE, STACK, NOW, GRACE, RETENTION)
    assert reaped["settled"] is False
    assert status(clients, "run-6") == "SUCCEEDED"


def test_a_run_recorded_running_after_its_execution_ended_is_settled(clients: dict[str, Any]) -> None:
    arn, instance_id = start_run(clients, "run-7", NOW + timedelta(hours=1))
    clients["ec2"].terminate_instances(InstanceIds=[instance_id])
    clients["stepfunctions"].stop_execution(executionArn=arn)
    assert settle_orphaned_runs(clients, executions(clients), TABLE, NOW, RETENTION) == ["run-7"]
    assert status(clients, "run-7") == "ABORTED"


def test_reaping_one_execution_terminates_its_instance_and_settles_it_once(clients: dict[str, Any]) -> None:
    arn, instance_id = start_run(clients, "run-8", NOW + timedelta(hours=1))
    assert reap_execution(clients, clients["queues"], TABLE, STACK, arn, NOW, RETENTION) == {
        "terminated": [],
        "record": None,
    }
    clients["stepfunctions"].stop_execution(executionArn=arn, error="LongTask.Aborted", cause="aborted by the user")
    reaped = reap_execution(clients, clients["queues"], TABLE, STACK, arn, NOW, RETENTION)
    assert reaped["terminated"] == [instance_id]
    assert (reaped["record"]["status"], reaped["record"]["executionArn"]) == ("ABORTED", arn)
    assert status(clients, "run-8") == "ABORTED"
    assert (
        reap_execution(clients, clients["queues"], TABLE, STACK, arn, NOW, RETENTION)["record"] is None
    )  # already settled


def ended(name: str, status: str, **fields: Any) -> dict[str, Any]:
    """A DescribeExecution answer for an ended execution."""
    arn = f"arn:aws:states:{REGION}:123456789012:execution:longtask:{name}"
    return {"executionArn": arn, "name": name, "status": status, "stopDate": NOW, **fields}


def test_a_run_whose_final_write_failed_gets_the_record_its_execution_carries(clients: dict[str, Any]) -> None:
    """Record Run Finished failed: the item says RUNNING, the execution's output (or Fail cause) has the record."""
    launch = {"runId": {"S": "run-9"}, "status": {"S": "RUNNING"}, "instanceId": {"S": "i-1"}}
    clients["dynamodb"].put_item(TableName=TABLE, Item=launch)
    record = {"runId": "run-9", "status": "SUCCEEDED", "exitCode": 0, "finishedAt": "2026-06-01T00:00:00Z"}
    assert settle_run(clients, TABLE, ended("run-9", "SUCCEEDED", output=json.dumps(record)), NOW, 30)
    item = from_item(clients["dynamodb"].get_item(TableName=TABLE, Key={"runId": {"S": "run-9"}})["Item"])
    assert (item["status"], item["exitCode"], item["instanceId"]) == ("SUCCEEDED", 0, "i-1")
    assert item["expiresAt"] == int((NOW + timedelta(days=30)).timestamp())

    failed = {**record, "runId": "run-10", "status": "FAILED", "exitCode": 3}
    execution = ended("run-10", "FAILED", error="LongTask.ScriptFailed", cause=json.dumps(failed))
    assert settle_run(clients, TABLE, execution, NOW, RETENTION)["exitCode"] == 3  # no item: created
    assert status(clients, "run-10") == "FAILED"


def test_a_settled_run_is_announced_once_with_its_record(clients: dict[str, Any]) -> None:
    put: list[dict[str, Any]] = []
    capture = "provide-client-params.events.PutEvents"
    clients["events"].meta.events.register(capture, lambda params, **_: put.append(params))
    clients["dynamodb"].put_item(TableName=TABLE, Item={"runId": {"S": "run-12"}, "status": {"S": "RUNNING"}})
    execution = ended("run-12", "ABORTED")
    record = settle_run(clients, TABLE, execution, NOW, RETENTION)
    assert settle_run(clients, TABLE, execution, NOW, RETENTION) is None  # settled already: nothing to announce
    (entries,) = [call["Entries"] for call in put]
    assert [(e["Source"], e["DetailType"], e["EventBusName"]) for e in entries] == [
        ("longtask", "LongTask Run State Change", "default")]  # fmt: skip
    assert json.loads(entries[0]["Detail"]) == record and record["status"] == "ABORTED"


def test_an_execution_that_failed_in_the_engine_is_settled_with_its_error(clients: dict[str, Any]) -> None:
    clients["dynamodb"].put_item(TableName=TABLE, Item={"runId": {"S": "run-11"}, "status": {"S": "RUNNING"}})
    execution = ended("run-11", "FAILED", error="States.Runtime", cause="an input path was missing")
    record = settle_run(clients, TABLE, execution, NOW, RETENTION)
    assert record["status"] == "FAILED"
    assert record["reason"] == "its execution ended FAILED (States.Runtime: an input path was missing)"
    assert record["finishedAt"] == "2026-06-01T00:00:00Z"


def test_an_orphaned_queued_run_is_settled_as_a_running_one_is(clients: dict[str, Any]) -> None:
    arn, instance_id = start_run(clients, "run-14", NOW + timedelta(hours=1))
    clients["ec2"].terminate_instances(InstanceIds=[instance_id])
    queued = {"runId": {"S": "run-14"}, "status": {"S": "QUEUED"}, "executionArn": {"S": arn}}
    clients["dynamodb"].put_item(TableName=TABLE, Item=queued)
    clients["stepfunctions"].stop_execution(executionArn=arn)
    assert settle_orphaned_runs(clients, executions(clients), TABLE, NOW, RETENTION) == ["run-14"]
    assert status(clients, "run-14") == "ABORTED"


def test_an_ended_execution_gives_its_queue_slot_back(clients: dict[str, Any]) -> None:
    queues = clients["queues"]
    arn, _ = start_run(clients, "run-15", NOW + timedelta(hours=1))
    assert queues.acquire("default", "run-15", arn, 2) is None
    assert reap_execution(clients, queues, TABLE, STACK, arn, NOW, RETENTION)["record"] is None  # still running
    assert queues.usage("default").running == 1
    clients["stepfunctions"].stop_execution(executionArn=arn)
    reap_execution(clients, queues, TABLE, STACK, arn, NOW, RETENTION)
    assert queues.usage("default").running == 0


def test_the_sweep_reclaims_a_slot_whose_execution_is_gone(clients: dict[str, Any]) -> None:
    queues = clients["queues"]
    arn, _ = start_run(clients, "run-16", NOW + timedelta(hours=1))
    assert queues.acquire("nightly", "run-16", arn, 2) is None
    assert queues.acquire("nightly", "lost", arn.replace("run-16", "lost"), 2) is None  # no such execution
    assert reclaim_slots(executions(clients), queues) == ["lost"]
    clients["stepfunctions"].stop_execution(executionArn=arn)
    assert reclaim_slots(executions(clients), queues) == ["run-16"]
    assert (queues.usage("nightly").running, queues.usage("nightly").vcpus) == (0, 0)


def test_the_sweep_lists_running_executions_and_describes_only_the_others(clients: dict[str, Any]) -> None:
    for n in range(3):
        start_run(clients, f"live-{n}", NOW + timedelta(hours=1))
    ended, _ = start_run(clients, "ended", NOW + timedelta(hours=1))
    clients["stepfunctions"].stop_execution(executionArn=ended)
    calls: list[str] = []
    clients["stepfunctions"].meta.events.register("before-call.states.*", lambda model, **_: calls.append(model.name))
    known = executions(clients)
    reaped = sweep(clients, known, TABLE, STACK, NOW, GRACE, RETENTION)
    settle_orphaned_runs(clients, known, TABLE, NOW, RETENTION)
    reclaim_slots(known, clients["queues"])
    assert [r["runId"] for r in reaped] == ["ended"]
    assert calls.count("ListExecutions") == 1  # one listing for the whole sweep
    assert calls.count("DescribeExecution") == 1  # the ended one, confirmed; none for the 3 running


def test_orphans_are_found_through_the_status_index_without_a_scan(clients: dict[str, Any]) -> None:
    calls: list[str] = []
    clients["dynamodb"].meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    settle_orphaned_runs(clients, executions(clients), TABLE, NOW, RETENTION)
    assert "Scan" not in calls and "Query" in calls


def test_a_settled_record_leaves_the_watchers_task_token_behind(clients: dict[str, Any]) -> None:
    parked = {"runId": {"S": "run-13"}, "status": {"S": "RUNNING"}, "waitToken": {"S": "AQB-secret-token"},
              "signaledAt": {"S": "2026-06-01T00:00:00Z"}}  # fmt: skip
    clients["dynamodb"].put_item(TableName=TABLE, Item=parked)
    record = settle_run(clients, TABLE, ended("run-13", "ABORTED"), NOW, RETENTION)
    item = clients["dynamodb"].get_item(TableName=TABLE, Key={"runId": {"S": "run-13"}})["Item"]
    assert item["status"]["S"] == "ABORTED"
    assert not {"waitToken", "signaledAt"} & (set(record) | set(item))


def test_an_event_eventbridge_refuses_is_put_again(clients: dict[str, Any]) -> None:
    answers = iter([{"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]},
                    {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}])  # fmt: skip
    calls: list[dict[str, Any]] = []

    class Events:
        def put_events(self, **params: Any) -> dict[str, Any]:
            calls.append(params)
            return next(answers)

    assert announce(Events(), {"runId": "run-14", "status": "ABORTED"}) is True
    assert len(calls) == 2 and calls[0] == calls[1]


def test_an_event_refused_every_time_is_reported_not_raised() -> None:
    class Events:
        def put_events(self, **_: Any) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}

    assert announce(Events(), {"runId": "run-15", "status": "ABORTED"}) is False


def test_a_run_stopped_before_any_record_is_listed_in_its_queue_from_when_it_started(clients: dict[str, Any]) -> None:
    started = NOW - timedelta(seconds=5)
    execution = ended("run-14", "ABORTED", startDate=started,
                      input=json.dumps({"script": "sleep 600", "queue": "reports", "priority": 900}))  # fmt: skip
    record = settle_run(clients, TABLE, execution, NOW, RETENTION)
    assert (record["queue"], record["priority"], record["startedAt"]) == ("reports", 900, iso_utc(started))
    item = clients["dynamodb"].get_item(TableName=TABLE, Key={"runId": {"S": "run-14"}})["Item"]
    assert item["listedAt"] == {"S": f"{iso_utc(started)}#run-14"}


def test_an_instance_launched_after_its_run_was_stopped_is_reaped_when_it_runs(clients: dict[str, Any]) -> None:
    """Stopped while its launch was in flight: the reap at the stop found no instance; its running event reaps it."""
    arn, instance_id = start_run(clients, "run-15", NOW + timedelta(hours=1))
    assert reap_late_launch(clients, clients["queues"], TABLE, STACK, instance_id, NOW, RETENTION)["terminated"] == []
    assert state(clients, instance_id) == "running"  # its run goes on
    clients["stepfunctions"].stop_execution(executionArn=arn)
    assert reap_late_launch(clients, clients["queues"], TABLE, STACK, instance_id, NOW, RETENTION)["terminated"] == [
        instance_id]  # fmt: skip
    assert state(clients, instance_id) in ("shutting-down", "terminated")
    other_arn, other = start_run(clients, "run-16", NOW + timedelta(hours=1), stack="someone-else")
    clients["stepfunctions"].stop_execution(executionArn=other_arn)
    assert reap_late_launch(clients, clients["queues"], TABLE, STACK, other, NOW, RETENTION)["terminated"] == []
    assert state(clients, other) == "running"  # another stack's
