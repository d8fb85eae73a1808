"""The client against stubbed AWS APIs (botocore's Stubber): what a run's record is, and that abort writes nothing
to the table itself (Stubber refuses any call not expected)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from longtask.client import LongTaskClient, Stack, Target
from longtask.common.record import build_record, to_item

from ..conftest import create_runs_table

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:longtask"
ARN = "arn:aws:states:us-east-1:123456789012:execution:longtask:run-1"
STOPPED = datetime(2026, 11, 28, 19, 0, 9, tzinfo=UTC)


@pytest.fixture
def stubbed() -> Iterator[tuple[LongTaskClient, dict[str, Stubber]]]:
    client = LongTaskClient.__new__(LongTaskClient)  # no stack lookup: its outputs are given
    client.target = Target()
    client.stack = Stack(MACHINE, "bucket", "runs", "reaper")
    session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1")
    stubbers = {}
    for attribute, service in (("stepfunctions", "stepfunctions"), ("dynamodb", "dynamodb"), ("lambda_", "lambda")):
        setattr(client, attribute, session.client(service))
        stubbers[service] = Stubber(getattr(client, attribute))
        stubbers[service].activate()
    yield client, stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()


def execution(status: str, **fields: Any) -> dict[str, Any]:
    return {"executionArn": ARN, "stateMachineArn": MACHINE, "name": "run-1", "status": status,
            "startDate": STOPPED, **fields}  # fmt: skip


def describe(stubbers: dict[str, Stubber], status: str, **fields: Any) -> None:
    stubbers["stepfunctions"].add_response("describe_execution", execution(status, **fields), {"executionArn": ARN})


def get_item(stubbers: dict[str, Stubber], record: dict[str, Any] | None) -> None:
    response = {"Item": to_item(record)} if record else {}
    stubbers["dynamodb"].add_response("get_item", response)


def test_a_succeeded_run_is_the_record_its_execution_output_carries(stubbed: Any) -> None:
    client, stubbers = stubbed
    record = build_record("run-1", "SUCCEEDED", "the script exited with code 0", exitCode=0)
    describe(stubbers, "SUCCEEDED", output=json.dumps(record), stopDate=STOPPED)
    assert client.record("run-1") == record


def test_a_failed_run_is_the_record_in_its_longtask_cause(stubbed: Any) -> None:
    client, stubbers = stubbed
    record = build_record("run-1", "FAILED", "the script exited with code 3", exitCode=3)
    describe(stubbers, "FAILED", error="LongTask.ScriptFailed", cause=json.dumps(record), stopDate=STOPPED)
    assert client.record("run-1")["exitCode"] == 3


def test_before_its_first_record_a_run_is_launching(stubbed: Any) -> None:
    client, stubbers = stubbed
    describe(stubbers, "RUNNING")
    get_item(stubbers, None)
    assert client.record("run-1") == {"runId": "run-1", "status": "LAUNCHING"}


def test_a_stopped_run_still_recorded_running_shows_what_the_reaper_will_write(stubbed: Any) -> None:
    client, stubbers = stubbed
    describe(stubbers, "ABORTED", error="LongTask.Aborted", cause="aborted by the user", stopDate=STOPPED)
    get_item(stubbers, build_record("run-1", "RUNNING", None, {"instanceId": "i-1", "executionArn": ARN}))
    record = client.record("run-1")
    assert (record["status"], record["instanceId"], record["finishedAt"]) == ("ABORTED", "i-1", "2026-11-28T19:00:09Z")
    assert "aborted by the user" in record["reason"]


def test_abort_stops_then_has_the_reaper_settle_and_writes_nothing_itself(stubbed: Any) -> None:
    client, stubbers = stubbed
    describe(stubbers, "RUNNING")
    stubbers["stepfunctions"].add_response(
        "stop_execution", {"stopDate": STOPPED},
        {"executionArn": ARN, "error": "LongTask.Aborted", "cause": "aborted by the user (longtask abort)"},
    )  # fmt: skip
    describe(stubbers, "RUNNING")  # StopExecution has not settled yet
    describe(stubbers, "ABORTED", stopDate=STOPPED)
    settled = build_record("run-1", "ABORTED", "its execution ended ABORTED")
    payload = StreamingBody(BytesIO(b"{}"), 2)
    asked = {"FunctionName": "reaper", "Payload": json.dumps({"executionArn": ARN})}
    stubbers["lambda"].add_response("invoke", {"StatusCode": 200, "Payload": payload}, asked)
    describe(stubbers, "ABORTED", stopDate=STOPPED)
    get_item(stubbers, settled)
    assert client.abort("run-1")["status"] == "ABORTED"


def test_a_failing_reaper_is_reported(stubbed: Any) -> None:
    from longtask.errors import LongTaskError

    client, stubbers = stubbed
    describe(stubbers, "ABORTED", stopDate=STOPPED)
    payload = StreamingBody(BytesIO(b'{"errorMessage": "boom"}'), 24)
    stubbers["lambda"].add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": payload})
    with pytest.raises(LongTaskError, match=r"the reaper failed to settle run run-1.*boom"):
        client.abort("run-1")


def test_a_list_by_status_shows_whole_records(aws: Any) -> None:
    """Against moto's table as the template defines it (its ByStatusAndTime index): newest first, whole records."""
    client = LongTaskClient.__new__(LongTaskClient)
    client.stack = Stack(MACHINE, "bucket", "runs", "reaper")
    client.dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    create_runs_table(client.dynamodb, "runs")
    for run_id, launched in (("old", "2026-11-27T00:00:00Z"), ("new", "2026-11-28T00:00:00Z")):
        record = build_record(run_id, "FAILED", "exit 3", {"launchedAt": launched, "instanceId": "i-1"}, exitCode=3)
        client.dynamodb.put_item(TableName="runs", Item=to_item(record))
    client.dynamodb.put_item(TableName="runs", Item=to_item(build_record("ok", "SUCCEEDED", None, {
        "startedAt": "2026-11-27T12:00:00Z", "queue": "nightly"})))  # fmt: skip
    runs = client.list_runs(10, "FAILED")
    assert [(r["runId"], r["launchedAt"], r["exitCode"]) for r in runs] == [
        ("new", "2026-11-28T00:00:00Z", 3), ("old", "2026-11-27T00:00:00Z", 3)]  # fmt: skip
    assert "listedAt" not in runs[0]  # the index's key is no part of a record
    assert [r["runId"] for r in client.list_runs(10)] == ["new", "ok", "old"]  # every status, merged
    assert [r["runId"] for r in client.list_runs(2)] == ["new", "ok"]
    assert [r["runId"] for r in client.list_runs(10, queue="nightly")] == ["ok"]



def test_wait_all_polls_one_run_at_a_time(stubbed: Any) -> None:
    client, stubbers = stubbed
    record = build_record("run-1", "SUCCEEDED", "the script exited with code 0", exitCode=0)
    describe(stubbers, "RUNNING")  # the first run: polled until it ended, then its record read
    for _ in range(2 + 2):  # each run: the poll that sees it ended, then its record (Stubber checks the order)
        describe(stubbers, "SUCCEEDED", output=json.dumps(record), stopDate=STOPPED)
    assert client.wait_all(["run-1", "run-1"], interval=0) == [record, record]
