"""A busy control plane makes a run wait, never fail (issue 38, docs/scale.md): Lambda refusing the workflow's
invocations for want of concurrency, EC2 throttling the launcher's calls, and the reaper's sweep at scale."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

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


@pytest.mark.exclusive  # the account's EC2 token buckets
@pytest.mark.slow(seconds=60)
def test_runs_whose_look_at_the_network_ec2_throttles_wait_then_launch(client: LongTaskClient,
                                                                       engine_limits: Callable) -> None:  # fmt: skip
    """The launcher describes the subnet before each launch. A throttled DescribeSubnets once failed the run
    (LAUNCH_FAILED after the workflow's retries); now the run waits for a launch time it reserves."""
    engine_limits({"buckets": {"DescribeSubnets": {"size": 1, "refill": 0.2}}})  # a token every 5 s
    throttled = EnginePaths.default().throttled_file
    before = json.loads(throttled.read_text()).get("DescribeSubnets", 0) if throttled.exists() else 0
    run_ids = [client.start({"script": "echo hi"}) for _ in range(4)]
    assert poll_condition(lambda: any("EC2 throttled DescribeSubnets" in (client.item(r) or {}).get("waitReason", "")
                                      for r in run_ids), 60)  # fmt: skip
    records = client.wait_all(run_ids)
    assert [r["status"] for r in records] == ["SUCCEEDED"] * 4
    assert json.loads(throttled.read_text())["DescribeSubnets"] > before
