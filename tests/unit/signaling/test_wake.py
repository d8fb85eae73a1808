"""The signal protocol against moto's DynamoDB (the Runs table as the template defines it) and a stand-in
Step Functions: a parked wait is woken, a signal with no wait parked is kept for the next, none is lost or
counted twice, and a finished run is never touched."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from signaling.app import runs_of_instance
from signaling.wake import wake

from .conftest import TABLE


class StepFunctions:
    """SendTaskSuccess: records the tokens sent; tokens in `ended` answer as a wait that already timed out."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.ended: set[str] = set()

    def send_task_success(self, taskToken: str, output: str) -> dict:
        if taskToken in self.ended:
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "timed out"}}, "SendTaskSuccess")
        self.sent.append(taskToken)
        return {}


def item(dynamodb: Any) -> dict[str, Any]:
    return dynamodb.get_item(TableName=TABLE, Key={"runId": {"S": "r1"}})["Item"]


def park(dynamodb: Any, token: str) -> None:
    """What the watcher's wait writes: its token, unless a signal is recorded (then it consumes it instead)."""
    dynamodb.update_item(TableName=TABLE, Key={"runId": {"S": "r1"}}, UpdateExpression="SET waitToken = :t",
                         ConditionExpression="#s = :r AND attribute_not_exists(signaledAt)",
                         ExpressionAttributeNames={"#s": "status"},
                         ExpressionAttributeValues={":t": {"S": token}, ":r": {"S": "RUNNING"}})  # fmt: skip


@pytest.fixture
def dynamodb(dynamodb: Any) -> Any:
    """The Runs table with a RUNNING run r1 on instance i-1."""
    dynamodb.put_item(TableName=TABLE, Item={"runId": {"S": "r1"}, "status": {"S": "RUNNING"},
                                             "instanceId": {"S": "i-1"}})  # fmt: skip
    return dynamodb


def test_a_parked_wait_is_woken_and_its_token_removed(dynamodb: Any) -> None:
    sfn = StepFunctions()
    park(dynamodb, "token-1")
    assert wake(dynamodb, sfn, TABLE, "r1") == "woken"
    assert sfn.sent == ["token-1"]
    assert "waitToken" not in item(dynamodb) and "signaledAt" not in item(dynamodb)


def test_a_signal_before_the_wait_is_kept_and_the_wait_sees_it(dynamodb: Any) -> None:
    sfn = StepFunctions()
    assert wake(dynamodb, sfn, TABLE, "r1") == "recorded"
    assert "signaledAt" in item(dynamodb)
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        park(dynamodb, "token-1")  # the wait does not park: it consumes the signal and polls at once
    assert sfn.sent == []


def test_duplicate_signals_count_once(dynamodb: Any) -> None:
    sfn = StepFunctions()
    park(dynamodb, "token-1")
    assert [wake(dynamodb, sfn, TABLE, "r1") for _ in range(3)] == ["woken", "recorded", "recorded"]
    assert sfn.sent == ["token-1"]
    # the duplicates are one recorded signal: the next wait consumes it once, the one after parks again
    dynamodb.update_item(TableName=TABLE, Key={"runId": {"S": "r1"}}, UpdateExpression="REMOVE signaledAt")
    park(dynamodb, "token-2")
    assert item(dynamodb)["waitToken"]["S"] == "token-2"


def test_a_stale_token_does_not_lose_the_signal(dynamodb: Any) -> None:
    sfn = StepFunctions()
    park(dynamodb, "token-1")
    sfn.ended.add("token-1")  # that wait timed out; the watcher is polling, its next wait not yet parked
    assert wake(dynamodb, sfn, TABLE, "r1") == "recorded"
    assert "signaledAt" in item(dynamodb) and "waitToken" not in item(dynamodb)


class Counted:
    """The DynamoDB client, counting the calls made through it."""

    def __init__(self, client: Any) -> None:
        self.client, self.calls = client, 0

    def __getattr__(self, name: str) -> Any:
        self.calls += 1
        return getattr(self.client, name)


def test_a_finished_run_is_never_touched_and_costs_one_call(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"runId": {"S": "r1"}, "status": {"S": "SUCCEEDED"}})
    counted = Counted(dynamodb)
    assert wake(counted, StepFunctions(), TABLE, "r1") == "not running"
    assert counted.calls == 1  # the failed condition returns the item: no read after it
    assert wake(dynamodb, StepFunctions(), TABLE, "unknown-run") == "not running"
    assert item(dynamodb) == {"runId": {"S": "r1"}, "status": {"S": "SUCCEEDED"}}


def test_only_this_stacks_instances_are_runs(dynamodb: Any) -> None:
    assert runs_of_instance(dynamodb, TABLE, "i-1") == ["r1"]
    assert runs_of_instance(dynamodb, TABLE, "i-someone-elses") == []
