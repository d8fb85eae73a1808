"""The fault matrix: each way a run can go wrong ends in its named status, with no instance left running
and the Runs item final. AWS errors LocalStack cannot produce are injected at the local engine's EC2
boundary (longtask_engine/in_localstack/plugins/faults.py), where the launcher meets them exactly as it meets AWS's.

`make test-faults` runs this file and prints the figures (scenarios passed, runs lost, instances leaked).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from common.timestamps import parse_iso_utc
from launcher.watch_plan import BACKSTOP_GRACE_MINUTES
from longtask_engine.in_localstack import prices

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .engine_session import MINUTE_SECONDS
from .support import (
    assert_final,
    default_image,
    executions,
    instances_of,
    invoke_function,
    live_instances,
    rules_without_targets,
    stack_output,
    terminate_as,
    wait_until_running,
)

SLEEPER = "echo started\nsleep 300\n"
RESPONSE_LOST = {"operation": "RunInstances", "when": "after", "code": "InternalError", "status": 500}


def test_nonzero_exit(client: LongTaskClient) -> None:
    record = assert_final(client, client.start({"script": "exit 7"}), "FAILED")
    assert record["exitCode"] == 7, record


def test_hang_past_the_timeout(client: LongTaskClient) -> None:
    record = assert_final(client, client.start({"script": SLEEPER, "timeoutSeconds": 2}), "TIMED_OUT")
    assert client.execution(record["runId"])["error"] == "LongTask.TimedOut"


def test_instance_terminated_from_outside_mid_run(client: LongTaskClient) -> None:
    run_id = client.start({"script": SLEEPER})
    terminate_as(client, wait_until_running(client, run_id)["instanceId"])
    record = assert_final(client, run_id, "NO_RESULT")
    assert "Client.UserInitiatedShutdown" in record["reason"]
    # the bootstrap runs as its own systemd unit, stopped while the network is still up: its report arrives
    # (in cloud-final.service it would get SIGTERM only after the network is down, and nothing would report)
    assert "the script was interrupted (the bootstrap received SIGTERM)" in record["reason"], record
    assert "finished with exit code 143" in record["logTail"]


def test_no_result_json_written(client: LongTaskClient) -> None:
    # the script kills the bootstrap, then powers the machine off with the system's own shutdown (the second on
    # PATH, past the bootstrap's wrapper; the last was this host's own where it has one, which failed, and the run
    # ended at the bootstrap's backstop shutdown instead): nothing reports, and the workflow sees the instance end
    script = 'echo started\nkill -KILL $PPID\nsleep 1\n"$(type -ap shutdown | sed -n 2p)" -h now\n'
    run_id = client.start({"script": script, "timeoutSeconds": 600})
    record = assert_final(client, run_id, "NO_RESULT")
    assert "without writing result.json (state reason: Client.InstanceInitiatedShutdown" in record["reason"]


def test_capacity_error_on_the_first_type_then_success(client: LongTaskClient, fault_plan: Any) -> None:
    no_capacity = {"operation": "RunInstances", "code": "InsufficientInstanceCapacity"}
    run_id = fault_plan({**no_capacity, "instanceType": "t3a.nano"})
    client.start({"script": "echo hi", "instanceTypes": ["t3a.nano", "t3.nano"]}, run_id)
    record = assert_final(client, run_id, "SUCCEEDED")
    assert record["instanceType"] == "t3.nano"
    # no subnet given: the launcher names the default subnet it resolved
    assert record["launchAttempts"] == [f"t3a.nano (on-demand) in {record['subnetId']}: InsufficientInstanceCapacity"]


def test_capacity_exhausted_everywhere_fails_a_run_that_may_not_wait(client: LongTaskClient, fault_plan: Any) -> None:
    run_id = fault_plan({"operation": "RunInstances", "code": "InsufficientInstanceCapacity"})
    run_input = {"script": "echo hi", "instanceTypes": ["t3a.nano", "t3.nano"], "spot": True, "maxQueueSeconds": 0}
    client.start(run_input, run_id)
    record = assert_final(client, run_id, "LAUNCH_FAILED")
    assert record["reason"] == ("no capacity for t3a.nano; no capacity for t3.nano (maxQueueSeconds is 0: the run "
                                "does not wait)")  # fmt: skip
    assert instances_of(client, run_id) == []


def test_throttling_then_success(client: LongTaskClient, fault_plan: Any) -> None:
    run_id = fault_plan({"operation": "RunInstances", "code": "RequestLimitExceeded", "status": 503, "times": 4})
    client.start({"script": "echo hi"}, run_id)
    assert_final(client, run_id, "SUCCEEDED")
    assert len(instances_of(client, run_id)) == 1


def test_spot_capacity_falls_back_to_on_demand(client: LongTaskClient, fault_plan: Any) -> None:
    run_id = fault_plan({"operation": "RunInstances", "spot": True, "code": "InsufficientInstanceCapacity"})
    record = assert_final(client, client.start({"script": "echo hi", "spot": True}, run_id), "SUCCEEDED")
    assert (record["instanceType"], record["spot"]) == ("t3a.nano", False)


@pytest.mark.parametrize(
    ("run_input", "named"),
    [
        ({}, "give exactly one of 'script'"),
        ({"script": "true", "timeoutSeconds": 0}, "timeoutSeconds"),
        ({"script": "true", "instanceTypes": ["huge"]}, "instanceTypes.0"),
        ({"script": "true", "env": {"LONGTASK_RUN_ID": "x"}}, "reserved prefix"),
        ({"script": "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"}, "AWS access key"),
    ],
    ids=["no-script", "zero-timeout", "bad-instance-type", "reserved-env", "embedded-secret"],
)
def test_invalid_input(client: LongTaskClient, run_input: dict, named: str) -> None:
    run_id = client.start(run_input)
    record = assert_final(client, run_id, "INVALID_INPUT")
    assert named in record["reason"]
    assert instances_of(client, run_id) == []


def test_execution_stopped_from_outside(client: LongTaskClient) -> None:
    run_id = client.start({"script": SLEEPER})
    wait_until_running(client, run_id)
    client.stepfunctions.stop_execution(executionArn=client.execution_arn(run_id), error="Operator", cause="console")
    assert client.execution(run_id)["status"] == "ABORTED"  # at once, as on AWS (plugins/stepfunctions_stop.py)
    # EventBridge delivers "Execution Status Change" to the reaper; invoking it again (as the schedule does) is safe
    invoke_reaper(client, {})
    record = assert_final(client, run_id, "ABORTED")
    assert "ABORTED" in record["reason"]
    # terminated, after a moment shutting-down while its OS stops
    assert poll_condition(lambda: [i["State"]["Name"] for i in instances_of(client, run_id)] == ["terminated"], 10)


@pytest.mark.exclusive  # no reaper for any run while it lasts
@pytest.mark.parametrize(("script", "status", "exit_code"), [("echo ok\n", "SUCCEEDED", 0), ("exit 3\n", "FAILED", 3)])
def test_a_run_whose_final_record_was_not_written_is_settled_with_its_real_status(
    client: LongTaskClient, reaper_rules_disabled: None, script: str, status: str, exit_code: int
) -> None:
    """When "Record Run Finished" exhausts its retries (8, over 510 s), the table keeps the item "Record Run
    Started" wrote while the execution ends with the record. Here the table is put back in that state: the
    launcher's own item from the execution's history. The reaper writes the record the execution carries. Its
    EventBridge rules have no targets meanwhile: the invocation EventBridge makes at the execution's end is
    asynchronous, and could come after the item is put back and settle the run before the one below."""
    run_id = client.start({"script": script})
    assert_final(client, run_id, status)
    history = client.stepfunctions.get_execution_history(executionArn=client.execution_arn(run_id))["events"]
    outputs = [json.loads(e["taskSucceededEventDetails"]["output"]) for e in history if e["type"] == "TaskSucceeded"]
    (launched,) = [output for output in outputs if "launch" in (output.get("Payload") or {})]
    client.dynamodb.put_item(TableName=client.stack.table, Item=launched["Payload"]["item"])
    assert client.item(run_id)["status"] == "RUNNING"
    assert client.record(run_id)["status"] == status  # the client shows the execution's record meanwhile
    event = {"detail-type": "Step Functions Execution Status Change",
             "detail": {"executionArn": client.execution_arn(run_id), "status": status}}  # fmt: skip
    settled = invoke_reaper(client, event)["record"]
    item = client.item(run_id)
    assert (settled["status"], item["status"], item["exitCode"]) == (status, status, exit_code)
    assert item["instanceId"] == launched["Payload"]["launch"]["instanceId"]
    assert invoke_reaper(client, event)["record"] is None  # settled once


def test_reaper_leaves_running_runs_alone(client: LongTaskClient) -> None:
    run_id = client.start({"script": "echo started\nsleep 3\n"})
    instance_id = wait_until_running(client, run_id)["instanceId"]
    assert instance_id not in [r["instanceId"] for r in invoke_reaper(client, {})["reaped"]]
    assert_final(client, run_id, "SUCCEEDED")


def test_duplicate_launch_with_the_same_client_token(client: LongTaskClient) -> None:
    ec2 = client.target.client("ec2")
    arguments = {"ImageId": default_image(client), "MinCount": 1, "MaxCount": 1, "ClientToken": "same-token-1"}
    first = ec2.run_instances(**arguments)["Instances"][0]["InstanceId"]
    second = ec2.run_instances(**arguments)["Instances"][0]["InstanceId"]
    assert first == second
    with pytest.raises(ClientError, match="IdempotentParameterMismatch"):  # the same token, another request
        ec2.run_instances(**{**arguments, "InstanceType": "t3.nano"})
    ec2.terminate_instances(InstanceIds=[first])


def test_a_stop_while_the_launch_is_retried_ends_the_run_at_once(client: LongTaskClient, fault_plan: Any) -> None:
    """StopExecution during Launch Instance's Retry interval: ABORTED at once, no further launch, and the
    instance the crashed attempt started (its response lost) is terminated by the reaper the end wakes."""
    run_id = fault_plan({**RESPONSE_LOST, "times": 30})
    client.start({"script": SLEEPER}, run_id)

    def launch_failed() -> bool:
        history = client.stepfunctions.get_execution_history(executionArn=client.execution_arn(run_id))["events"]
        return any(e["type"] == "TaskFailed" for e in history)

    assert poll_condition(launch_failed, timeout=60)
    client.stepfunctions.stop_execution(executionArn=client.execution_arn(run_id))
    assert client.execution(run_id)["status"] == "ABORTED"
    assert poll_condition(lambda: client.item(run_id) is not None, timeout=30)  # written by the reaper the end woke
    record = assert_final(client, run_id, "ABORTED")  # and no instance of it alive
    assert record.get("instanceId") is None  # "Record Run Started" never ran
    assert len(instances_of(client, run_id)) == 1  # the one the crashed attempt started, and no other


def test_launcher_crashing_once(client: LongTaskClient, fault_plan: Any) -> None:
    # the instance starts but the response is lost 3 times: botocore's 3 attempts fail, the handler crashes,
    # the workflow retries it, and the ClientToken / the run's tags bring back the same instance
    run_id = fault_plan({**RESPONSE_LOST, "times": 3})
    client.start({"script": "echo hi"}, run_id)
    assert_final(client, run_id, "SUCCEEDED")
    assert len(instances_of(client, run_id)) == 1
    history = client.stepfunctions.get_execution_history(executionArn=client.execution_arn(run_id))["events"]
    assert any(e["type"] == "TaskFailed" and "InternalError" in e["taskFailedEventDetails"]["cause"] for e in history)


@pytest.mark.exclusive  # no reaper for any run, and the sweep settles every orphan
def test_workflow_gone_while_the_instance_runs_on(client: LongTaskClient, reaper_rules_disabled: None) -> None:
    # neither workflow nor reaper: the in-instance backstop (deadline + BACKSTOP_GRACE_MINUTES, seconds on the
    # compressed clock) ends the instance by itself
    run_id = client.start({"script": SLEEPER, "timeoutSeconds": 5})  # backstop: ceil(5 / 60) + grace "minutes"
    backstop_seconds = (1 + BACKSTOP_GRACE_MINUTES) * MINUTE_SECONDS
    assert poll_condition(lambda: (client.item(run_id) or {}).get("status") == "RUNNING", timeout=30)
    instance_id = client.item(run_id)["instanceId"]
    client.stepfunctions.stop_execution(executionArn=client.execution_arn(run_id))
    assert poll_condition(lambda: live_instances(client, run_id) == [], timeout=backstop_seconds + 30)
    (reservation,) = client.target.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    instance = reservation["Instances"][0]
    assert instance["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
    # the status event was missed too: the reaper's next sweep settles the run
    assert invoke_reaper(client, {})["settledOrphans"] == [run_id]
    assert client.item(run_id)["status"] == "ABORTED"


@pytest.fixture
def reaper_rules_disabled(client: LongTaskClient) -> Iterator[None]:
    """The stack's EventBridge rules that start the reaper, without their targets for one test."""
    with rules_without_targets(client, "ReaperFunction"):
        yield


def test_spot_interruption_relaunches_a_fresh_instance(client: LongTaskClient) -> None:
    script = (
        # GetObject, which the instance role may do (listing the bucket, it may not)
        'if aws s3 cp "${LONGTASK_ARTIFACTS_URI}first-attempt" - >/dev/null 2>&1; then\n'
        '  echo "second attempt"; exit 0\n'
        'fi\n'
        'echo first | aws s3 cp - "${LONGTASK_ARTIFACTS_URI}first-attempt"\n' + SLEEPER
    )
    run_id = client.start({"script": script, "spot": True, "retries": 1})
    terminate_as(client, wait_until_running(client, run_id)["instanceId"], "Server.SpotInstanceTermination")
    record = assert_final(client, run_id, "SUCCEEDED")
    assert record["attempt"] == 1
    assert "second attempt" in record["logTail"]
    assert len(instances_of(client, run_id)) == 2
    kept = client.s3.get_object(Bucket=client.stack.bucket, Key=f"runs/{run_id}/attempts/0/cloud-init-output.log")
    assert b"started" in kept["Body"].read()


def test_a_script_that_exits_75_twice_succeeds_on_its_third_attempt(client: LongTaskClient) -> None:
    script = 'echo "attempt $LONGTASK_ATTEMPT"\n[ "$LONGTASK_ATTEMPT" -lt 2 ] && exit 75\necho third attempt\n'
    run_id = client.start({"script": script, "retries": 3, "retryOnExitCodes": [75], "retryBackoffSeconds": 1})
    record = assert_final(client, run_id, "SUCCEEDED")
    assert (record["attempt"], record["exitCode"]) == (2, 0) and "third attempt" in record["logTail"]
    assert [(a["attempt"], a["exitCode"]) for a in record["attempts"]] == [(0, 75), (1, 75), (2, 0)]
    assert {a["instanceId"] for a in record["attempts"]} == {i["InstanceId"] for i in instances_of(client, run_id)}
    for attempt in (0, 1):  # each attempt's log kept
        key = f"runs/{run_id}/attempts/{attempt}/cloud-init-output.log"
        assert f"attempt {attempt}".encode() in client.s3.get_object(Bucket=client.stack.bucket, Key=key)["Body"].read()
    history = client.stepfunctions.get_execution_history(executionArn=client.execution_arn(run_id))["events"]
    waits = [e for e in history if (e.get("stateEnteredEventDetails") or e.get("stateExitedEventDetails")
                                    or {}).get("name") == "Back Off Before Relaunch"]  # fmt: skip
    pairs = zip(waits[::2], waits[1::2], strict=True)  # entered, exited
    waited = [(end["timestamp"] - start["timestamp"]).total_seconds() for start, end in pairs]
    assert len(waited) == 2 and waited[0] >= 1 and waited[1] >= 2  # retryBackoffSeconds * 2**attempt


# The first attempt steps until its notice stops it, however late the notice comes (a busy machine delays the
# test's look at the log); a resumed attempt takes five steps more.
STEPPER = """n=$(cat "$LONGTASK_CHECKPOINT_DIR/step" 2>/dev/null || echo 0)
echo "attempt $LONGTASK_ATTEMPT resumes at step $n"
trap 'echo "$n" >"$LONGTASK_CHECKPOINT_DIR/step"; echo "saved step $n"; exit 143' TERM
last=$((LONGTASK_ATTEMPT > 0 ? n + 5 : 3600))
while [ "$n" -lt "$last" ]; do n=$((n + 1)); echo "step $n"; sleep 1 & wait $!; done
echo "finished at step $n"
"""


@pytest.mark.slow(seconds=60)
def test_a_spot_run_interrupted_mid_way_resumes_from_its_checkpoint_and_succeeds(client: LongTaskClient) -> None:
    """The notice (`longtask local interrupt`, as AWS FIS gives it) stops the script, which saves its step in
    LONGTASK_CHECKPOINT_DIR; the attempt reports at once and EC2 reclaims the instance at the notice's time; the
    next attempt, on demand (onDemandAfterInterruptions 1), restores the step and finishes from there."""
    from longtask_engine.host.interruptions import send_spot_interruption
    from longtask_engine.paths import EnginePaths

    # 3600 s: the backstop (its minutes compressed to seconds in tests) waits 80 s, past the reclaim
    run_id = client.start({"script": STEPPER, "spot": True, "retries": 1, "timeoutSeconds": 3600})
    assert poll_condition(lambda: b"step 3" in client.log_since(run_id, 0), timeout=60)
    first = client.record(run_id)["instanceId"]
    ec2 = client.target.client("ec2")
    send_spot_interruption(ec2, EnginePaths.default(), run_id, seconds=25)

    def reported() -> dict[str, Any] | None:
        try:
            key = f"runs/{run_id}/result.json"
            return json.loads(client.s3.get_object(Bucket=client.stack.bucket, Key=key)["Body"].read())
        except ClientError:
            return None

    assert poll_condition(reported, timeout=30)
    assert (reported() or {})["spotNotice"]
    record = assert_final(client, run_id, "SUCCEEDED")
    (reclaimed,) = [i for i in instances_of(client, run_id) if i["InstanceId"] == first]
    # EC2 ended it (the first end's reason counts): after reporting it waited to be reclaimed, not shut itself down
    assert reclaimed["StateReason"]["Code"] == "Server.SpotInstanceTermination"
    saved = re.search(r"saved step (\d+)", read_log(client, f"runs/{run_id}/attempts/0/cloud-init-output.log"))
    assert saved and int(saved[1]) >= 3
    assert f"attempt 1 resumes at step {saved[1]}" in record["logTail"]
    assert f"finished at step {int(saved[1]) + 5}" in record["logTail"]
    assert [(a["attempt"], a["spot"]) for a in record["attempts"]] == [(0, True), (1, False)]
    assert "Server.SpotInstanceTermination" in record["attempts"][0]["reason"]


def test_a_watcher_child_that_ends_aborted_is_replaced_by_a_fresh_one(client: LongTaskClient) -> None:
    """StartExecution refuses the name of a closed execution (ExecutionAlreadyExists), so the retry of Watch Instance
    starts a child of a new name; the run is still watched and ends as its script does."""
    run_id = client.start({"script": "echo started\nsleep 10\necho done", "pollSeconds": 2})
    wait_until_running(client, run_id)
    watcher = stack_output(client, "WatcherStateMachineArn")

    def running_child() -> dict[str, Any] | None:
        return next((e for e in executions(client, watcher) if e["name"].startswith(f"{run_id}-a0-w")
                     and e["status"] == "RUNNING"), None)  # fmt: skip

    assert poll_condition(running_child, timeout=30)
    stopped = running_child() or {}
    client.stepfunctions.stop_execution(executionArn=stopped["executionArn"], error="Test.Aborted")
    record = assert_final(client, run_id, "SUCCEEDED")
    assert "done" in record["logTail"]
    names = {e["name"] for e in executions(client, watcher) if e["name"].startswith(f"{run_id}-a0-w")}
    assert stopped["name"].endswith("-r0") and stopped["name"][:-1] + "1" in names


def test_a_rebalance_recommendation_syncs_the_checkpoint_and_the_run_goes_on(client: LongTaskClient,
                                                                             longtask: Any) -> None:  # fmt: skip
    """`longtask local rebalance`: the recommendation at IMDS events/recommendations/rebalance syncs the checkpoint
    at once (the bootstrap's interval is 60 s) and the script finishes on the same instance, not interrupted."""
    script = 'echo 5 >"$LONGTASK_CHECKPOINT_DIR/step"\necho started\nsleep 8\necho "went on"'
    run_id = client.start({"script": script, "spot": True, "retries": 1})
    wait_until_running(client, run_id)
    given = longtask("local", "rebalance", run_id)
    assert given.exit_code == 0 and "rebalance recommendation given to" in given.stderr, given
    key = f"runs/{run_id}/checkpoint/step"
    assert poll_condition(lambda: _exists(client, key), timeout=15)
    assert client.execution(run_id)["status"] == "RUNNING"  # synced while the script still runs
    record = assert_final(client, run_id, "SUCCEEDED")
    assert "went on" in record["logTail"] and record["attempts"] is None and record["spot"] is True


def _exists(client: LongTaskClient, key: str) -> bool:
    try:
        client.s3.head_object(Bucket=client.stack.bucket, Key=key)
        return True
    except ClientError:
        return False


def read_log(client: LongTaskClient, key: str) -> str:
    return client.s3.get_object(Bucket=client.stack.bucket, Key=key)["Body"].read().decode()


@pytest.mark.slow(seconds=75)
def test_a_budget_ends_the_run_when_its_cost_would_pass_it(client: LongTaskClient) -> None:
    """maxCostUsd is a second deadline, kept by the timeout guard: 0.2 USD of an m7i.48xlarge (about 9.68 USD an
    hour, data/prices.json) lasts about 74 s, well before the hour's timeout (a budget must pay EC2's first 60 s)."""
    run_input = {"script": SLEEPER, "instanceTypes": ["m7i.48xlarge"], "maxCostUsd": 0.2, "timeoutSeconds": 3600}
    record = assert_final(client, client.start(run_input), "BUDGET_EXCEEDED")
    assert client.execution(record["runId"])["error"] == "LongTask.BudgetExceeded"
    assert record["maxCostUsd"] == 0.2 and "would have passed maxCostUsd (0.2 USD)" in record["reason"]
    lasted = (parse_iso_utc(record["deadline"]) - parse_iso_utc(record["launchedAt"])).total_seconds()
    assert 60 <= lasted < 80
    # the budget's clock starts when the launch began (launchedAt), the bill when EC2 launched the instance, a
    # moment later: the instance ran at least until the deadline, from its own launch time
    (instance,) = instances_of(client, record["runId"])
    ran_to_deadline = (parse_iso_utc(record["deadline"]) - instance["LaunchTime"]).total_seconds()
    assert record["instanceSeconds"] >= ran_to_deadline
    # EC2 bills until the guard's terminate goes through, seconds after the deadline; the budget's clock started
    # earlier than the bill by the launch's own time (seconds when the machine is busy)
    hourly = float(prices.regions()["us-east-1"]["onDemandHourly"]["m7i.48xlarge"])
    assert hourly * ran_to_deadline / 3600 <= record["costUsd"] < 0.25


def test_spot_interruption_without_retries_is_reported(client: LongTaskClient) -> None:
    run_id = client.start({"script": SLEEPER, "spot": True})
    terminate_as(client, wait_until_running(client, run_id)["instanceId"], "Server.SpotInstanceTermination")
    record = assert_final(client, run_id, "NO_RESULT")
    assert "Server.SpotInstanceTermination" in record["reason"]


@pytest.mark.slow(seconds=80)  # and the machine busy throughout: first of all
def test_fifty_runs_at_once(client: LongTaskClient) -> None:
    scripts = {n: f"sleep 1\nexit {n % 2}\n" for n in range(50)}
    run_ids = {n: client.start({"script": script, "timeoutSeconds": 900}) for n, script in scripts.items()}
    records = dict(zip(run_ids, client.wait_all(list(run_ids.values())), strict=True))
    expected = {n: "SUCCEEDED" if n % 2 == 0 else "FAILED" for n in run_ids}
    assert {n: r["status"] for n, r in records.items()} == expected
    for n, run_id in run_ids.items():
        assert client.item(run_id)["status"] == expected[n]
        assert live_instances(client, run_id) == []


def invoke_reaper(client: LongTaskClient, event: dict[str, Any]) -> dict[str, Any]:
    return invoke_function(client, "ReaperFunctionName", event)


def test_a_run_aborted_while_its_launch_is_in_flight_leaves_no_instance(client: LongTaskClient,
                                                                        fault_plan: Any) -> None:  # fmt: skip
    """The abort's reap finds no instance yet; the instance's running event reaps it once it is launched."""
    run_id = fault_plan({"operation": "RunInstances", "seconds": 4, "times": 1})  # RunInstances takes 4 s
    client.start({"script": "sleep 300\n"}, run_id)
    assert poll_condition(lambda: "Launch Instance" in entered(client, run_id), 30)
    assert client.abort(run_id)["status"] == "ABORTED"
    assert instances_of(client, run_id) == []  # the launch is still in flight
    assert poll_condition(lambda: instances_of(client, run_id) != [], 30)  # then it lands…
    assert poll_condition(lambda: live_instances(client, run_id) == [], 30)  # …and is reaped
    assert client.record(run_id)["status"] == "ABORTED"


def entered(client: LongTaskClient, run_id: str) -> list[str]:
    """The states the run's execution has entered."""
    events = client.stepfunctions.get_execution_history(executionArn=client.execution_arn(run_id))["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
