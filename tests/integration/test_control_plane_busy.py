"""A busy control plane makes a run wait, never fail (issue 38, docs/scale.md): Lambda refusing the workflow's
invocations for want of concurrency, EC2 throttling the launcher's calls, and the reaper's sweep at scale."""

from __future__ import annotations

from typing import Any

from longtask.client import LongTaskClient

from .support import assert_final

# Before docs/scale.md's change, the workflow gave up after 7 throttled invocations (6 retries 2 s doubling)
PAST_THE_OLD_BUDGET = 8


def states_entered(client: LongTaskClient, run_id: str) -> list[str]:
    events = client.stepfunctions.get_execution_history(executionArn=client.execution_arn(run_id),
                                                        maxResults=1000)["events"]  # fmt: skip
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_a_launcher_that_lambda_throttles_past_the_retries_still_launches(client: LongTaskClient,
                                                                          fault_plan: Any) -> None:  # fmt: skip
    throttled = {"operation": "Invoke", "function": "LauncherFunction", "code": "TooManyRequestsException",
                 "status": 429, "times": PAST_THE_OLD_BUDGET}  # fmt: skip
    run_id = fault_plan(throttled)
    client.start({"script": "echo launched"}, run_id)
    assert_final(client, run_id, "SUCCEEDED")
    entered = states_entered(client, run_id)
    assert entered.count("Wait Out Lambda Throttling Before Launch") == 2, entered  # 4 tries, a pause, 4, a pause
    assert entered.count("Launch Instance") == 3


def test_an_outcome_that_lambda_throttles_past_the_retries_is_still_recorded(client: LongTaskClient,
                                                                             fault_plan: Any) -> None:  # fmt: skip
    throttled = {"operation": "Invoke", "function": "OutcomeFunction", "code": "TooManyRequestsException",
                 "status": 429, "times": 5}  # fmt: skip
    run_id = fault_plan(throttled)
    client.start({"script": "exit 3"}, run_id)
    record = assert_final(client, run_id, "FAILED")
    assert record["exitCode"] == 3
    assert states_entered(client, run_id).count("Wait Out Lambda Throttling Before Outcome") == 1
