"""The outcome: status, reason, log tail and the Runs item, for each way a run can end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from common.pricing import Prices
from common.record import from_item
from common.statuses import ERROR_NAMES
from outcome.artifacts import LOG_TAIL_BYTES
from outcome.collect import collect

from ..conftest import BUCKET, LocalPriceList

# EC2's minimum billing of a t3a.nano on demand with the root volume moto's unknown image gets (8 GiB of gp3)
MINUTE_OF_A_NANO = round((0.0047 + 8 * 0.08 / 720) / 60, 6)


@pytest.fixture
def launch(aws: dict[str, Any]) -> dict[str, Any]:
    """A launched run whose instance has already terminated."""
    instance_id = aws["ec2"].run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    aws["ec2"].terminate_instances(InstanceIds=[instance_id])
    return {
        "runId": "run-1",
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:longtask:run-1",
        "instanceId": instance_id,
        "instanceType": "t3a.nano",
        "subnetId": "subnet-aaaaaaaa",
        "spot": False,
        "launchedAt": "2026-01-01T00:00:00Z",
        "deadline": "2026-01-01T02:00:00Z",
        "logUri": f"s3://{BUCKET}/runs/run-1/cloud-init-output.log",
        "liveLogUri": f"s3://{BUCKET}/runs/run-1/live-log/",
        "resultUri": f"s3://{BUCKET}/runs/run-1/result.json",
        "artifactsUri": f"s3://{BUCKET}/runs/run-1/artifacts/",
        "attempt": 0,
        "retries": 0,
    }


def report(aws: dict[str, Any], exit_code: int, log: str = "working\n", **extra: Any) -> None:
    result = {"runId": "run-1", "exitCode": exit_code, "finishedAt": "2026-01-01T01:00:00Z", **extra}
    aws["s3"].put_object(Bucket=BUCKET, Key="runs/run-1/result.json", Body=json.dumps(result).encode())
    aws["s3"].put_object(Bucket=BUCKET, Key="runs/run-1/cloud-init-output.log", Body=log.encode())


def outcome_of(aws: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    return collect("run-1", run, aws["s3"], aws["ec2"], prices_of(aws))


def prices_of(aws: dict[str, Any]) -> Prices:
    return Prices(aws["ec2"], "us-east-1", lambda region: LocalPriceList())


def test_exit_code_zero_succeeds(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    report(aws, 0)
    outcome = outcome_of(aws, {"launch": launch, "instance": {"state": "terminated"}})
    record = outcome["record"]
    assert (record["status"], record["exitCode"], outcome["error"]) == ("SUCCEEDED", 0, None)
    assert record["logTail"] == "working\n"
    assert record["finishedAt"] == "2026-01-01T01:00:00Z"
    assert record["instanceId"] == launch["instanceId"]


def test_nonzero_exit_fails_as_script_failed(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    report(aws, 3)
    outcome = outcome_of(aws, {"launch": launch, "instance": {"state": "terminated"}})
    assert (outcome["record"]["status"], outcome["record"]["exitCode"]) == ("FAILED", 3)
    assert outcome["record"]["reason"] == "the script exited with code 3"
    assert outcome["error"] == "LongTask.ScriptFailed"


def test_a_secret_the_instance_could_not_read_ends_the_run_with_its_error(aws: dict[str, Any],
                                                                           launch: dict[str, Any]) -> None:  # fmt: skip
    reason = "secret DB (arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbC123) could not be read: denied"
    report(aws, 1, reason=reason, error="LongTask.SecretUnavailable")
    outcome = outcome_of(aws, {"launch": launch, "instance": {"state": "terminated"}})
    assert (outcome["record"]["status"], outcome["record"]["reason"]) == ("FAILED", reason)
    assert outcome["error"] == "LongTask.SecretUnavailable"


def test_an_instance_names_no_error_but_its_own(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    report(aws, 1, error="LongTask.TimedOut")  # a script may write result.json: only the instance's errors count
    assert outcome_of(aws, {"launch": launch, "instance": {"state": "terminated"}})["error"] == "LongTask.ScriptFailed"


def test_a_signal_is_named(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    report(aws, 137, signal="SIGKILL")
    record = outcome_of(aws, {"launch": launch})["record"]
    assert record["reason"] == "the script exited with code 137, killed by SIGKILL"


def test_no_result_names_the_state_reason(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    outcome = outcome_of(aws, {"launch": launch, "instance": {"state": "terminated"}})
    assert outcome["record"]["status"] == "NO_RESULT"
    assert outcome["error"] == "LongTask.NoResult"
    # EC2's message starts with its code already (moto writes it as EC2 does): the code is said once
    reason = "the instance ended without writing result.json (state reason: Client.UserInitiatedShutdown: User "
    assert outcome["record"]["reason"] == reason + "initiated shutdown)"


def test_the_guard_makes_it_timed_out(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    report(aws, 143)
    outcome = outcome_of(aws, {"launch": launch, "watch": {"index": 1, "guarded": True}})
    assert outcome["record"]["status"] == "TIMED_OUT"
    assert outcome["error"] == "LongTask.TimedOut"
    assert "passed its deadline (2026-01-01T02:00:00Z)" in outcome["record"]["reason"]


def test_an_instance_still_running_is_terminated(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    running = aws["ec2"].run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    lost = {"Error": "States.Timeout", "Cause": "DescribeInstances kept failing"}
    outcome = outcome_of(aws, {"launch": {**launch, "instanceId": running}, "watched": lost})
    state = aws["ec2"].describe_instances(InstanceIds=[running])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")
    assert "the workflow terminated it" in outcome["record"]["reason"]
    assert "lost sight of the instance (DescribeInstances kept failing)" in outcome["record"]["reason"]


@pytest.mark.parametrize(
    ("error", "status"),
    [("InvalidInput", "INVALID_INPUT"), ("LaunchFailed", "LAUNCH_FAILED"), ("Lambda.Unknown", "LAUNCH_FAILED")],
)
def test_launch_errors_become_their_status(aws: dict[str, Any], error: str, status: str) -> None:
    cause = json.dumps({"errorMessage": "invalid input: pollSeconds: too small", "errorType": error})
    outcome = outcome_of(aws, {"error": {"Error": error, "Cause": cause}})
    record = outcome["record"]
    assert (record["status"], record["reason"]) == (status, "invalid input: pollSeconds: too small")
    assert record["instanceId"] is None
    assert outcome["error"] == ERROR_NAMES[status]


def test_a_cause_that_is_not_json_is_kept_as_it_is(aws: dict[str, Any]) -> None:
    outcome = outcome_of(aws, {"error": {"Error": "States.Timeout", "Cause": "the task timed out"}})
    assert outcome["record"]["reason"] == "the task timed out"


def test_log_tail_keeps_the_last_4_kb_from_a_line_start(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    log = "".join(f"line {n:05d}\n" for n in range(2000))
    report(aws, 0, log=log)
    tail = outcome_of(aws, {"launch": launch})["record"]["logTail"]
    assert len(tail.encode()) <= LOG_TAIL_BYTES
    assert tail.endswith("line 01999\n")
    assert tail.startswith("line ")
    assert log.endswith(tail)


def test_item_is_the_record_in_dynamodb_form(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    report(aws, 3)
    outcome = outcome_of(aws, {"launch": launch})
    assert outcome["item"]["runId"] == {"S": "run-1"}
    assert outcome["item"]["exitCode"] == {"N": "3"}
    assert outcome["item"]["status"] == {"S": "FAILED"}
    # the record's fields, and when DynamoDB's TTL removes the finished run (RunRetentionDays)
    assert set(outcome["item"]) == {k for k, v in outcome["record"].items() if v is not None} | {"expiresAt",
                                                                                                 "listedAt"}
    assert outcome["item"]["listedAt"] == {"S": f"{launch['launchedAt']}#run-1"}  # launched at: no start time given
    finished = datetime(2026, 1, 1, 1, tzinfo=UTC)  # the result's finishedAt: the item lasts 90 days from there
    assert int(outcome["item"]["expiresAt"]["N"]) == int((finished + timedelta(days=90)).timestamp())


def set_state_reason(aws: dict[str, Any], instance_id: str, code: str) -> None:
    """What EC2 says about why an instance ended (moto: on the backend object)."""
    from moto.ec2.models.instances import StateReason

    backend_instance(instance_id).state_reason = StateReason(f"{code}: reason", code)


def backend_instance(instance_id: str) -> Any:
    """moto's own object of an instance."""
    from moto.backends import get_backend

    return get_backend("ec2")["123456789012"]["us-east-1"].get_instance(instance_id)


def test_terminated_from_outside_is_no_result_even_with_a_trapped_exit(aws: dict[str, Any], launch: dict) -> None:
    report(aws, 143, interrupted=True, reason="the bootstrap received SIGTERM")
    outcome = outcome_of(aws, {"launch": launch})
    assert (outcome["record"]["status"], outcome["record"]["exitCode"]) == ("NO_RESULT", 143)
    ended = "terminated from outside (Client.UserInitiatedShutdown: User initiated shutdown)"
    assert ended in outcome["record"]["reason"]
    assert "interrupted (the bootstrap received SIGTERM)" in outcome["record"]["reason"]


def test_own_shutdown_interrupting_the_script_is_a_failure(aws: dict[str, Any], launch: dict) -> None:
    set_state_reason(aws, launch["instanceId"], "Client.InstanceInitiatedShutdown")
    report(aws, 143, interrupted=True, reason="the bootstrap received SIGTERM")
    assert outcome_of(aws, {"launch": launch})["record"]["status"] == "FAILED"


def test_spot_reclaim_with_retries_left_asks_for_a_relaunch(aws: dict[str, Any], launch: dict) -> None:
    set_state_reason(aws, launch["instanceId"], "Server.SpotInstanceTermination")
    aws["s3"].put_object(Bucket=BUCKET, Key="runs/run-1/cloud-init-output.log", Body=b"half done\n")
    outcome = outcome_of(aws, {"launch": {**launch, "retries": 2, "spot": True}})
    assert outcome["relaunch"].items() >= {"attempt": 1, "backoffSeconds": 0, "interruptions": 1}.items()
    assert "Server.SpotInstanceTermination" in outcome["record"]["reason"]
    assert outcome["record"]["status"] == "RELAUNCHING" and outcome["record"]["finishedAt"] is None  # announced only
    kept = aws["s3"].get_object(Bucket=BUCKET, Key="runs/run-1/attempts/0/cloud-init-output.log")
    assert kept["Body"].read() == b"half done\n"


def test_spot_reclaim_without_retries_is_no_result_with_the_reason(aws: dict[str, Any], launch: dict) -> None:
    set_state_reason(aws, launch["instanceId"], "Server.SpotInstanceTermination")
    outcome = outcome_of(aws, {"launch": launch})
    assert outcome["relaunch"] is None
    assert outcome["record"]["status"] == "NO_RESULT"
    assert "Server.SpotInstanceTermination" in outcome["record"]["reason"]


def test_no_relaunch_after_the_guard(aws: dict[str, Any], launch: dict) -> None:
    set_state_reason(aws, launch["instanceId"], "Server.InternalError")
    outcome = outcome_of(aws, {"launch": {**launch, "retries": 2}, "watch": {"index": 2, "guarded": True}})
    assert outcome["relaunch"] is None
    assert outcome["record"]["status"] == "TIMED_OUT"


class WithoutListBucket:
    """S3 as a reader without s3:ListBucket sees it: a missing key is 403 AccessDenied, not 404."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def get_object(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        try:
            return self.s3.get_object(**kwargs)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchKey":
                raise
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject") from None


@pytest.mark.parametrize("guarded", [False, True])
def test_a_missing_result_answered_403_is_no_result_not_a_crash(aws: dict, launch: dict, guarded: bool) -> None:
    run = {"launch": launch, "watch": {"guarded": guarded}}
    record = collect("run-1", run, WithoutListBucket(aws["s3"]), aws["ec2"], prices_of(aws))["record"]
    assert record["status"] == ("TIMED_OUT" if guarded else "NO_RESULT")
    assert record["instanceId"] == launch["instanceId"] and record["deadline"] == launch["deadline"]


def test_a_reclaimed_instance_without_result_answered_403_still_relaunches(aws: dict, launch: dict) -> None:
    # without the 403 read as "no result", the outcome Lambda failed and the relaunch never happened
    set_state_reason(aws, launch["instanceId"], "Server.SpotInstanceTermination")
    run = {"launch": {**launch, "retries": 1}}
    outcome = collect("run-1", run, WithoutListBucket(aws["s3"]), aws["ec2"], prices_of(aws))
    relaunch = {"attempt": 1, "backoffSeconds": 0, "interruptions": 0}  # it was on demand: no Spot interruption
    assert outcome["relaunch"].items() >= relaunch.items()


def test_a_route_the_launcher_could_not_check_is_in_the_reason(aws: dict, launch: dict) -> None:
    note = "the default route of subnet subnet-1 goes to tgw-1, which the launcher cannot check"
    record = outcome_of(aws, {"launch": {**launch, "networkNote": note}})["record"]
    assert record["status"] == "NO_RESULT" and record["reason"].endswith(f"launched although {note}")


def test_without_a_final_log_the_tail_comes_from_the_live_log_chunks(aws: dict, launch: dict) -> None:
    for attempt, sequence, text in ((0, 0, "old attempt\n"), (1, 0, "first chunk\n"), (1, 1, "last words\n")):
        key = f"runs/run-1/live-log/{attempt:02d}-{sequence:06d}.log"
        aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=text.encode())
    record = outcome_of(aws, {"launch": launch})["record"]
    assert record["status"] == "NO_RESULT" and record["logTail"] == "first chunk\nlast words\n"


@pytest.mark.parametrize(("attempt", "backoff"), [(0, 10), (1, 20)])
def test_an_exit_code_to_retry_relaunches_after_a_growing_backoff(aws: dict, launch: dict, attempt: int,
                                                                  backoff: int) -> None:  # fmt: skip
    set_state_reason(aws, launch["instanceId"], "Client.InstanceInitiatedShutdown")
    report(aws, 75, attempt=attempt)
    rules = {"attempt": attempt, "retries": 2, "retryOnExitCodes": [75, 76], "retryBackoffSeconds": 10}
    outcome = outcome_of(aws, {"launch": {**launch, **rules}})
    relaunch = {"attempt": attempt + 1, "backoffSeconds": backoff, "interruptions": 0}
    assert outcome["relaunch"].items() >= relaunch.items()
    assert (outcome["record"]["status"], outcome["record"]["exitCode"]) == ("RELAUNCHING", 75)  # announced only
    assert "the script exited 75, one of retryOnExitCodes" in outcome["record"]["reason"]


@pytest.mark.parametrize(("exit_code", "attempt"), [(75, 2), (3, 0)])
def test_an_exit_code_not_to_retry_or_without_retries_left_fails(aws: dict, launch: dict, exit_code: int,
                                                                 attempt: int) -> None:  # fmt: skip
    set_state_reason(aws, launch["instanceId"], "Client.InstanceInitiatedShutdown")
    report(aws, exit_code, attempt=attempt)
    outcome = outcome_of(aws, {"launch": {**launch, "attempt": attempt, "retries": 2, "retryOnExitCodes": [75]}})
    assert outcome["relaunch"] is None
    assert (outcome["record"]["status"], outcome["record"]["exitCode"]) == ("FAILED", exit_code)


def test_an_earlier_attempts_result_is_not_this_attempts(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    report(aws, 75, attempt=0)  # attempt 1 was terminated before it wrote its own
    outcome = outcome_of(aws, {"launch": {**launch, "attempt": 1, "retries": 1, "retryOnExitCodes": [75]}})
    assert outcome["record"]["status"] == "NO_RESULT" and outcome["relaunch"] is None


def test_the_final_record_lists_every_attempt(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    rules = {"retries": 1, "retryOnExitCodes": [75]}
    set_state_reason(aws, launch["instanceId"], "Client.InstanceInitiatedShutdown")
    report(aws, 75, log="first\n", attempt=0)
    first = outcome_of(aws, {"launch": {**launch, **rules}})["record"]
    second_id = aws["ec2"].run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    aws["ec2"].terminate_instances(InstanceIds=[second_id])
    set_state_reason(aws, second_id, "Client.InstanceInitiatedShutdown")
    report(aws, 0, log="second\n", attempt=1)
    outcome = outcome_of(aws, {"launch": {**launch, **rules, "attempt": 1, "instanceId": second_id}})
    record = outcome["record"]
    assert from_item(outcome["item"])["attempts"] == record["attempts"]  # the table keeps them as they are
    kept_log = f"s3://{BUCKET}/runs/run-1/attempts/0/cloud-init-output.log"
    # moto's instances end as they start, on a clock of whole seconds: 0 s, or 1 s when a second began between
    ran = [attempt["instanceSeconds"] for attempt in record["attempts"]]
    assert all(seconds in (0, 1) for seconds in ran), ran
    minute = {"costUsd": MINUTE_OF_A_NANO}  # either way, the first minute is billed
    assert record["attempts"] == [
        {"attempt": 0, "instanceId": launch["instanceId"], "instanceType": "t3a.nano", "spot": False, "exitCode": 75,
         "reason": first["reason"], "instanceSeconds": ran[0], **minute, "logUri": kept_log},
        {"attempt": 1, "instanceId": second_id, "instanceType": "t3a.nano", "spot": False, "exitCode": 0,
         "reason": record["reason"], "instanceSeconds": ran[1], **minute, "logUri": launch["logUri"]},
    ]  # fmt: skip
    assert (record["instanceSeconds"], record["costUsd"]) == (sum(ran), 2 * MINUTE_OF_A_NANO)  # the run's, over both
    assert record["status"] == "SUCCEEDED"


def test_a_run_never_relaunched_lists_no_attempts(aws: dict[str, Any], launch: dict[str, Any]) -> None:
    report(aws, 0)
    assert outcome_of(aws, {"launch": launch})["record"]["attempts"] is None


def test_a_spot_notice_whose_instance_then_ended_itself_relaunches_counting_it(aws: dict, launch: dict) -> None:
    """The bootstrap stopped the script for a notice, and the instance shut down before EC2 reclaimed it (the
    in-instance backstop, or the script's own shutdown): the notice still counts as an interruption."""
    set_state_reason(aws, launch["instanceId"], "Client.InstanceInitiatedShutdown")
    reason = "EC2 gave a Spot interruption notice (IMDS spot/instance-action)"
    report(aws, 143, interrupted=True, spotNotice=True, reason=reason)
    outcome = outcome_of(aws, {"launch": {**launch, "retries": 2, "spot": True, "interruptions": 1}})
    assert outcome["relaunch"].items() >= {"attempt": 1, "backoffSeconds": 0, "interruptions": 2}.items()
    assert outcome["record"]["reason"] == f"{reason}; launching a fresh one"


def test_a_spot_notice_without_retries_left_is_no_result(aws: dict, launch: dict) -> None:
    set_state_reason(aws, launch["instanceId"], "Client.InstanceInitiatedShutdown")
    report(aws, 143, interrupted=True, spotNotice=True, reason="EC2 gave a Spot interruption notice (IMDS ...)")
    outcome = outcome_of(aws, {"launch": {**launch, "spot": True}})
    assert (outcome["relaunch"], outcome["record"]["status"]) == (None, "NO_RESULT")


def test_the_record_has_the_attempts_cost_from_launch_to_shutdown(aws: dict, launch: dict) -> None:
    """EC2 stops charging when the instance shuts down: the time StateTransitionReason gives."""
    report(aws, 0)
    instance = aws["ec2"].describe_instances(InstanceIds=[launch["instanceId"]])["Reservations"][0]["Instances"][0]
    launched = instance["LaunchTime"]
    shut_down = (launched + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    backend_instance(launch["instanceId"])._reason = f"User initiated ({shut_down} GMT)"
    outcome = outcome_of(aws, {"launch": {**launch, "publicIp": True}})
    hourly = 0.0047 + 8 * 0.08 / 720 + 0.005  # instance, root volume, public IPv4
    assert (outcome["record"]["instanceSeconds"], outcome["record"]["costUsd"]) == (7200, round(2 * hourly, 6))
    assert from_item(outcome["item"])["costUsd"] == outcome["record"]["costUsd"]  # a DynamoDB number, read back


def test_a_spot_instance_ec2_reclaims_in_its_first_hour_costs_only_its_volume(aws: dict, launch: dict) -> None:
    set_state_reason(aws, launch["instanceId"], "Server.SpotInstanceTermination")
    record = outcome_of(aws, {"launch": {**launch, "spot": True}})["record"]
    assert record["costUsd"] == round(8 * 0.08 / 720 / 60, 6)  # a billed minute of the volume; the instance is free


def test_a_run_guarded_at_its_budgets_deadline_exceeded_its_budget(aws: dict, launch: dict) -> None:
    budget = {"maxCostUsd": 0.01, "deadlineSource": "BUDGET", "rate": {"instance": 0.0047, "volume": 0.0009,
                                                                          "publicIp": 0.005}}  # fmt: skip
    outcome = outcome_of(aws, {"launch": {**launch, **budget}, "watch": {"guarded": True}})
    assert (outcome["record"]["status"], outcome["error"]) == ("BUDGET_EXCEEDED", "LongTask.BudgetExceeded")
    assert outcome["record"]["reason"].startswith("the run's cost would have passed maxCostUsd (0.01 USD) at")


def test_no_relaunch_when_the_budget_left_cannot_pay_another_attempt(aws: dict, launch: dict) -> None:
    set_state_reason(aws, launch["instanceId"], "Server.SpotInstanceTermination")
    budget = {"maxCostUsd": 0.0002, "spentUsd": 0.0001, "rate": {"instance": 0.0047, "volume": 0.0009, "publicIp": 0}}
    outcome = outcome_of(aws, {"launch": {**launch, **budget, "spot": False, "retries": 2}})
    assert outcome["relaunch"] is None and outcome["record"]["status"] == "NO_RESULT"
    assert "but what is left of maxCostUsd cannot pay another attempt" in outcome["record"]["reason"]


def test_a_script_stopped_for_a_stall_is_stalled_with_its_diagnostics(aws: dict[str, Any], launch: dict) -> None:
    reason = "no progress for 5 s (stallSeconds); the script was stopped (onStall fail)"
    report(aws, 143, stalled=True, onStall="fail", stalledAt="2026-12-07T05:01:02Z",
           diagnosticsUri="s3://b/runs/run-1/diagnostics/20261207T050102Z/", reason=reason)  # fmt: skip
    record = outcome_of(aws, {"launch": launch})["record"]
    assert (record["status"], record["reason"]) == ("STALLED", reason)
    assert record["stalledAt"] == "2026-12-07T05:01:02Z"
    assert record["diagnosticsUri"].endswith("/diagnostics/20261207T050102Z/")


def test_a_stall_with_retry_relaunches_while_retries_are_left(aws: dict[str, Any], launch: dict) -> None:
    reason = "no progress for 5 s (stallSeconds); the script was stopped (onStall retry)"
    report(aws, 143, stalled=True, onStall="retry", reason=reason)
    outcome = outcome_of(aws, {"launch": {**launch, "retries": 1}})
    assert outcome["relaunch"]["attempt"] == 1
    assert outcome["record"]["reason"] == f"{reason}; launching a fresh one"


def test_a_stall_that_was_only_notified_ends_as_the_script_did(aws: dict[str, Any], launch: dict) -> None:
    report(aws, 0, stalled=False, onStall="notify", stalledAt="2026-12-07T05:01:02Z")
    record = outcome_of(aws, {"launch": launch})["record"]
    assert (record["status"], record["stalledAt"]) == ("SUCCEEDED", "2026-12-07T05:01:02Z")
