"""Completion events: with a 300 s poll interval, the end of a run is seen when its instance reports or ends
(S3 and EC2 events wake the watcher through the signal Lambda), and the polls remain the safety net."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError
from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .support import (
    assert_final,
    executions,
    instances_of,
    invoke_function,
    rules_without_targets,
    stack_output,
    wait_until_running,
)

SLOW_POLLS = {"pollSeconds": 300, "maxPollSeconds": 300}
SOONER_THAN_A_POLL = 120  # seconds: a run seen to end within this was not seen by a poll (the first is at 300 s)


def watcher_histories(client: LongTaskClient, run_id: str) -> list[list[dict[str, Any]]]:
    """The history of each watcher child of the run."""
    sfn = client.stepfunctions
    watcher = stack_output(client, "WatcherStateMachineArn")
    children = [e["executionArn"] for e in executions(client, watcher) if e["name"].startswith(f"{run_id}-a")]
    return [sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"] for arn in children]


def entered(histories: list[list[dict[str, Any]]], state: str) -> int:
    """How many times the watchers entered a state."""
    return sum(1 for events in histories for e in events
               if e["type"].endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] == state)  # fmt: skip


def parked(client: LongTaskClient, run_id: str) -> bool:
    """The watcher waits for a signal: its token on the run's item, no signal left unconsumed."""
    item = client.item(run_id) or {}
    return "waitToken" in item and "signaledAt" not in item


def signal(client: LongTaskClient, run_id: str) -> dict[str, Any]:
    """Invoke the signal Lambda as EventBridge does for the run's result.json."""
    detail = {"bucket": {"name": client.stack.bucket}, "object": {"key": f"runs/{run_id}/result.json"}}
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": detail}
    return invoke_function(client, "SignalFunctionName", event)


def test_a_finish_is_seen_at_once_with_a_300_s_poll_interval(client: LongTaskClient) -> None:
    run_id = client.start({"script": "echo done\n", **SLOW_POLLS})
    assert poll_condition(lambda: client.is_final(run_id), timeout=SOONER_THAN_A_POLL)
    assert_final(client, run_id, "SUCCEEDED")
    assert entered(watcher_histories(client, run_id), "Wait Without Signal") == 0


def test_an_outside_termination_is_seen_at_once(client: LongTaskClient) -> None:
    run_id = client.start({"script": "echo started\nsleep 600\n", **SLOW_POLLS})
    instance_id = wait_until_running(client, run_id)["instanceId"]
    client.target.client("ec2").terminate_instances(InstanceIds=[instance_id])
    assert poll_condition(lambda: client.is_final(run_id), timeout=SOONER_THAN_A_POLL)
    assert_final(client, run_id, "NO_RESULT")


def test_the_run_looks_at_its_watcher_when_the_watcher_ends_not_twice_a_second(client: LongTaskClient) -> None:
    """As on AWS, the `.sync` task learns of its child's end from the child's status-change event
    (plugins/stepfunctions_child_ends.py): a look when it starts, one at the end and a net every 10 s
    (LOOK_SECONDS), not LocalStack's DescribeExecution every 0.5 s while the child runs."""
    run_id = client.start({"script": "sleep 20\necho done\n", **SLOW_POLLS})
    assert_final(client, run_id, "SUCCEEDED")
    history = client.stepfunctions.get_execution_history(executionArn=client.execution_arn(run_id))["events"]
    watches = [e for e in history if (e.get("stateEnteredEventDetails") or e.get("stateExitedEventDetails")
                                      or {}).get("name") == "Watch Instance"]  # fmt: skip
    watched = sum((end["timestamp"] - start["timestamp"]).total_seconds()
                  for start, end in zip(watches[::2], watches[1::2], strict=True))  # fmt: skip
    children = {json.loads(e["taskSubmittedEventDetails"]["output"])["ExecutionArn"]
                for e in history if e["type"] == "TaskSubmitted"}  # fmt: skip
    decisions = [json.loads(line) for line in EnginePaths.default().iam_decisions.read_text().splitlines()]
    looks = [d for d in decisions if d["action"] == "states:DescribeExecution" and d["resource"] in children]
    # the watch begins once the launch is recorded, the script when the machine boots: the watch sees most of the
    # 20 s, however busy the machine (LocalStack's looks twice a second would have been 10 or more in 5 s)
    assert watched >= 5 and all(d["allowed"] for d in looks)
    assert 2 * len(children) <= len(looks) <= 2 * len(children) + watched // 10, (len(looks), watched)


def test_a_signal_before_the_wait_is_kept_and_consumed_once(client: LongTaskClient) -> None:
    run_id = client.start({"script": "echo started\nsleep 600\n", **SLOW_POLLS})
    wait_until_running(client, run_id)
    assert poll_condition(lambda: parked(client, run_id), timeout=60)
    before = entered(watcher_histories(client, run_id), "Describe Instance")
    # a signal recorded while no wait was parked (as wake.py records it), then one that wakes the parked wait:
    # the woken watcher polls, its next wait finds the recorded signal and consumes it, polls, and parks again
    client.dynamodb.update_item(TableName=client.stack.table, Key={"runId": {"S": run_id}},
                                UpdateExpression="SET signaledAt = :now",
                                ExpressionAttributeValues={":now": {"S": "2026-01-01T00:00:00Z"}})  # fmt: skip
    assert signal(client, run_id)["signaled"] == {run_id: "woken"}
    assert poll_condition(lambda: parked(client, run_id), timeout=60)
    histories = watcher_histories(client, run_id)
    assert entered(histories, "Consume Signal") == 1
    assert entered(histories, "Describe Instance") == before + 2  # one poll a signal, no more
    assert client.abort(run_id)["status"] == "ABORTED"


def test_duplicate_signals_wake_no_more_than_once_each(client: LongTaskClient) -> None:
    run_id = client.start({"script": "echo started\nsleep 600\n", **SLOW_POLLS})
    wait_until_running(client, run_id)
    assert poll_condition(lambda: parked(client, run_id), timeout=60)
    before = entered(watcher_histories(client, run_id), "Describe Instance")
    outcomes = [signal(client, run_id)["signaled"][run_id] for _ in range(3)]
    assert outcomes[0] == "woken" and set(outcomes) <= {"woken", "recorded"}
    assert poll_condition(lambda: parked(client, run_id), timeout=60)  # parked again: no signal left to spin on
    assert before + 1 <= entered(watcher_histories(client, run_id), "Describe Instance") <= before + 3
    assert client.abort(run_id)["status"] == "ABORTED"


def test_the_token_of_a_wait_that_timed_out_answers_task_timed_out_and_its_task_ends_once(
    client: LongTaskClient,
) -> None:
    """AWS closes a task's token when the task ends, by its TimeoutSeconds too: SendTaskSuccess for it answers
    TaskTimedOut (wake.py then records the signal for the next wait), and the task records no end after that."""
    run_id = client.start({"script": "echo started\nsleep 600\n", "pollSeconds": 1, "maxPollSeconds": 1})
    wait_until_running(client, run_id)
    assert poll_condition(lambda: parked(client, run_id), timeout=60)
    first = (client.item(run_id) or {})["waitToken"]
    # each wait lasts 1 s: another token is parked once the first wait has timed out and the watcher has polled
    assert poll_condition(lambda: (client.item(run_id) or {}).get("waitToken", first) != first, timeout=60)
    with pytest.raises(ClientError) as late:
        client.stepfunctions.send_task_success(taskToken=first, output='{"signaled": true}')
    assert late.value.response["Error"]["Code"] == "TaskTimedOut"
    assert client.abort(run_id)["status"] == "ABORTED"
    for events in watcher_histories(client, run_id):
        running = False
        for event in sorted(events, key=lambda e: e["id"]):
            if event["type"] in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
                assert running, events  # an end with no task running: a task that had ended, ending again
                running = False
            running = running or event["type"] == "TaskStarted"


@pytest.mark.exclusive  # every run's events lost
def test_with_every_event_lost_the_polls_still_see_the_end(client: LongTaskClient) -> None:
    with rules_without_targets(client, "SignalFunction"):
        run_id = client.start({"script": "echo done\n", "pollSeconds": 1, "maxPollSeconds": 2})
        assert_final(client, run_id, "SUCCEEDED")
    histories = watcher_histories(client, run_id)
    woken = [e for events in histories for e in events if e["type"] == "TaskSucceeded"
             and "waitForTaskToken" in e["taskSucceededEventDetails"]["resource"]]  # fmt: skip
    assert woken == [] and entered(histories, "Describe Instance") >= 1


def test_with_the_ec2_events_lost_the_run_still_ends(client: LongTaskClient, fault_plan: Any) -> None:
    run_id = fault_plan({"operation": "StateChangeNotification"})  # every EC2 state-change event of the run dropped
    client.start({"script": "echo done\n", "pollSeconds": 2, "maxPollSeconds": 2}, run_id)
    assert_final(client, run_id, "SUCCEEDED")  # the report wakes a poll; a later poll sees it terminated


def test_a_run_ends_once_its_instance_has_shut_itself_down_not_when_ec2_calls_it_terminated(
    client: LongTaskClient, fault_plan: Any
) -> None:
    """Its own OS shut it down, so all it uploads is in S3: the shutting-down event ends the watch while EC2 still
    keeps the instance shutting-down (here for a minute; on AWS it may take minutes)."""
    run_id = fault_plan({"operation": "ShuttingDown", "seconds": 60})
    client.start({"script": "echo done\n", **SLOW_POLLS}, run_id)
    assert poll_condition(lambda: client.is_final(run_id), timeout=SOONER_THAN_A_POLL)
    assert client.record(run_id)["status"] == "SUCCEEDED"
    [instance] = instances_of(client, run_id)
    assert (instance["State"]["Name"], instance["StateReason"]["Code"]) == (
        "shutting-down", "Client.InstanceInitiatedShutdown"
    )  # fmt: skip


def test_an_instance_ended_through_the_api_is_watched_until_it_is_terminated(
    client: LongTaskClient, fault_plan: Any
) -> None:
    """Ended from outside (here the timeout guard), its OS may still be uploading while it shuts down: the run
    ends only once EC2 calls the instance terminated."""
    run_id = fault_plan({"operation": "ShuttingDown", "seconds": 10})
    client.start({"script": "echo started\nsleep 600\n", "timeoutSeconds": 5}, run_id)
    assert client.wait(run_id)["status"] == "TIMED_OUT"
    assert [i["State"]["Name"] for i in instances_of(client, run_id)] == ["terminated"]


def test_the_timeout_guard_fires_on_time_with_a_300_s_poll_interval(client: LongTaskClient) -> None:
    # 5 s, not 20: the instance's own backstop (`shutdown -h +N`, the deadline's minute + BACKSTOP_GRACE_MINUTES) runs
    # on the engine's compressed clock (a minute a second) and fired 21 s after boot, a second or so after a 20 s
    # deadline: on a busy machine it shut the instance down before the guard's terminate, and the run ended FAILED
    run_id = client.start({"script": "echo started\nsleep 600\n", "timeoutSeconds": 5, **SLOW_POLLS})
    assert poll_condition(lambda: client.is_final(run_id), timeout=SOONER_THAN_A_POLL)
    assert_final(client, run_id, "TIMED_OUT")


def test_a_signal_the_function_fails_on_reaches_its_on_failure_queue_after_two_retries(client: LongTaskClient) -> None:
    """An asynchronous invocation that fails is tried three times in all, then sent to the function's on-failure
    destination (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html): a lost
    completion signal is kept to look at, where the rules' dead-letter queues would never see it."""
    queue = stack_output(client, "SignalFailuresQueueUrl")
    marker = f"bad-{secrets.token_hex(4)}"
    client.lambda_.invoke(FunctionName=stack_output(client, "SignalFunctionName"), InvocationType="Event",
                          Payload=json.dumps({"source": marker, "detail": "not an object"}).encode())  # fmt: skip
    sqs = client.target.client("sqs")

    found: list[dict[str, Any]] = []

    def failed() -> bool:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            record = json.loads(message["Body"])
            if record["requestPayload"].get("source") == marker:
                found.append(record)
        return bool(found)

    assert poll_condition(failed, timeout=30, interval=0.5)
    (record,) = found
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
