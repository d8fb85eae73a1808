"""Wake the watcher of a run, or leave it a signal for its next wait; each signal is consumed once.

The watcher parks in a wait that stores its task token on the run's Runs item (`waitToken`), on condition that
no signal is recorded there (`signaledAt`); a wait that finds one consumes it (removes it) and polls at once.
A signal, then, either takes the parked token and sends it, or, when no wait is parked (or the token it took is
stale: that wait already timed out), records `signaledAt` on condition that no token arrived meanwhile. Each
step is one conditional write, so whatever the order of signals and waits, none is lost and none counts twice.
Only a run whose instance is up (RUNNING, or HOLDING after a failure) is signalled: a finished record is never
touched.

AWS behaviour relied on: the AWS SDK integration supports `.waitForTaskToken` and a Task's TimeoutSeconds ends
the wait with States.Timeout (https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html);
SendTaskSuccess for a token whose task has ended answers TaskTimedOut, InvalidToken or TaskDoesNotExist
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html); an UpdateItem whose
condition fails returns the item with ReturnValuesOnConditionCheckFailure=ALL_OLD
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html); S3 "Object Created"
events reach EventBridge (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html), and a rule
retries its target, then drops the event or sends it to the dead-letter queue
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from common.record import SIGNALED_AT, WAIT_TOKEN
from common.statuses import HOLDING, LIVE, RUNNING
from common.timestamps import iso_utc

# SendTaskSuccess for a wait that has ended: the signal is not lost, it is recorded for the next wait instead
STALE_TOKEN = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
MOST_TRIES = 5  # each retry means a wait parked or ended between two of our writes: rare, and never endless
NOT_RUNNING = "<not running>"  # what _take_token answers for a run that is over (never a task token)


def wake(dynamodb: Any, stepfunctions: Any, table: str, run_id: str) -> str:
    """Signal the run's watcher; return what happened: "woken", "recorded", or "not running"."""
    for _ in range(MOST_TRIES):
        token = _take_token(dynamodb, table, run_id)
        if token == NOT_RUNNING:
            return "not running"
        if token is not None:
            try:
                stepfunctions.send_task_success(taskToken=token, output='{"signaled": true}')
                return "woken"
            except ClientError as error:
                if error.response["Error"]["Code"] not in STALE_TOKEN:
                    raise
        recorded = _record_signal(dynamodb, table, run_id)
        if recorded is not None:
            return "recorded" if recorded else "not running"
    return "recorded"  # MOST_TRIES waits came and went: the watcher is active and polling anyway


def _take_token(dynamodb: Any, table: str, run_id: str) -> str | None:
    """Remove and return the parked wait's token; None when no wait is parked, NOT_RUNNING when the run is not
    RUNNING (a signal after its end, as EC2's `terminated` after a run ended on `shutting-down`: one call)."""
    try:
        old = dynamodb.update_item(
            TableName=table, Key={"runId": {"S": run_id}},
            UpdateExpression="REMOVE #token",
            ConditionExpression="#status IN (:running, :holding) AND attribute_exists(#token)",
            ExpressionAttributeNames={"#token": WAIT_TOKEN, "#status": "status"},
            ExpressionAttributeValues={":running": {"S": RUNNING}, ":holding": {"S": HOLDING}},
            ReturnValues="ALL_OLD", ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]  # fmt: skip
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None if _is_running(error) else NOT_RUNNING
        raise
    return old[WAIT_TOKEN]["S"]


def _record_signal(dynamodb: Any, table: str, run_id: str) -> bool | None:
    """Record the signal for the next wait: True; False when the run is not RUNNING; None when a wait parked
    meanwhile (take its token instead)."""
    try:
        dynamodb.update_item(
            TableName=table, Key={"runId": {"S": run_id}},
            UpdateExpression="SET #signal = :now",
            ConditionExpression="#status IN (:running, :holding) AND attribute_not_exists(#token)",
            ExpressionAttributeNames={"#token": WAIT_TOKEN, "#status": "status", "#signal": SIGNALED_AT},
            ExpressionAttributeValues={":running": {"S": RUNNING}, ":holding": {"S": HOLDING},
                                       ":now": {"S": iso_utc()}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )  # fmt: skip
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return None if _is_running(error) else False
    return True


def _is_running(failed: ClientError) -> bool:
    """Whether the item a failed condition was checked against is a live run: DynamoDB returns it with
    ReturnValuesOnConditionCheckFailure (none when there is no such item)."""
    found = failed.response.get("Item") or {}
    return found.get("status", {}).get("S") in LIVE
