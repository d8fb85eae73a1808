"""The cost model, from real execution histories: this design's watch beside the naive fixed-interval loop.

A run on a compressed clock (1 s polls doubling to 4 s, the same schedule shape as 30 s to 300 s) gives
the events and transitions per poll, per window and fixed; the watch plan then gives polls and windows
for 1 hour, 1 day and 30 days on AWS's defaults. The naive loop is deployed beside it and measured the
same way on a real local instance.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from launcher.watch_plan import watch_windows

from longtask.client import LongTaskClient
from longtask.common.timestamps import parse_iso_utc
from longtask.waiting import poll_condition

from .histories import history, polls, transitions

PRICE_PER_TRANSITION = 0.000025  # USD, Step Functions Standard
IMAGE = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"  # as the stack's
EVENT_LIMIT = 25_000
DURATIONS = {"1 hour": 3600, "1 day": 86400, "30 days": 30 * 86400}
WINDOW_STATES = ("Watch Instance", "What Did The Watch See?", "Next Window", "Any Window Left?")


def measure_design(client: LongTaskClient, watcher_arn: str) -> dict[str, float]:
    run_id = client.start({"script": "sleep 25\n", "pollSeconds": 1, "maxPollSeconds": 4})
    assert client.wait(run_id)["status"] == "SUCCEEDED"
    parent = history(client.stepfunctions, client.execution_arn(run_id))
    children = [
        history(client.stepfunctions, e["executionArn"])
        for e in client.stepfunctions.list_executions(stateMachineArn=watcher_arn)["executions"]
        if e["name"].startswith(f"{run_id}-a0-w")
    ]
    windows, child_polls = len(children), sum(polls(c) for c in children)
    in_windows = [e for e, state in _by_state(parent) if state in WINDOW_STATES]
    return {
        "windows measured": windows,
        "polls measured": child_polls,
        "events per poll": (sum(len(c) for c in children) - 4 * windows) / child_polls,
        "transitions per poll": (sum(transitions(c) for c in children) - windows) / child_polls,
        "child overhead events": 4,  # ExecutionStarted, the ending Pass (2), ExecutionSucceeded
        "child overhead transitions": 1,
        "parent events per window": len(in_windows) / windows,
        "parent transitions per window": transitions(in_windows) / windows,
        "parent fixed events": len(parent) - len(in_windows),
        "parent fixed transitions": transitions(parent) - transitions(in_windows),
    }


def run_naive(client: LongTaskClient, seconds: int, poll: int, runs: int = 1) -> list[tuple[list[dict], str]]:
    """Deploy the naive loop, point it at `runs` real local instances that each run `seconds` and power off;
    return each execution's history with its instance id."""
    sfn, ec2 = client.stepfunctions, client.target.client("ec2")
    definition = (Path(__file__).with_name("naive.asl.json")).read_text()
    arn = sfn.create_state_machine(
        name=f"naive-{int(time.time())}", definition=definition, roleArn=_naive_role(client.target.client("iam"))
    )["stateMachineArn"]
    user_data = f"#!/bin/bash\nsleep {seconds}\nshutdown -h now\n"  # boto3 base64-encodes it
    watched = []
    for _ in range(runs):
        instance_id = ec2.run_instances(
            ImageId=IMAGE, MinCount=1, MaxCount=1, UserData=user_data,
            InstanceInitiatedShutdownBehavior="terminate",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "longtask:run-id", "Value": "naive"}]}],
        )["Instances"][0]["InstanceId"]  # fmt: skip
        execution = sfn.start_execution(
            stateMachineArn=arn, input=json.dumps({"instanceId": instance_id, "pollSeconds": poll})
        )["executionArn"]
        watched.append((execution, instance_id))
    for execution, _ in watched:
        poll_condition(lambda e=execution: sfn.describe_execution(executionArn=e)["status"] != "RUNNING",
                       seconds + poll + 120, 0.5)  # fmt: skip
        sfn.stop_execution(executionArn=execution)  # a no-op once it has ended
    histories = [(history(sfn, execution), instance_id) for execution, instance_id in watched]
    sfn.delete_state_machine(stateMachineArn=arn)
    return histories


def _naive_role(iam: Any) -> str:
    """A role for the naive loop that may do what it does (the engine decides IAM as AWS does)."""
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]}  # fmt: skip
    name = "longtask-bench-naive"
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="Describe", PolicyDocument=json.dumps(policy))
    return arn


def measure_naive(client: LongTaskClient, seconds: int = 12) -> dict[str, float]:
    """The naive loop's events and transitions per poll, from one real run at 1 s polls."""
    ((events, _),) = run_naive(client, seconds, poll=1)
    turns = polls(events)
    return {
        "polls measured": turns,
        "events per poll": (len(events) - 4) / turns,
        "transitions per poll": (transitions(events) - 1) / turns,
    }


def project(design: dict[str, float], naive: dict[str, float]) -> list[dict[str, Any]]:
    """Transitions, cost, history and detection bound on AWS for each duration, both designs."""
    rows = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for label, seconds in DURATIONS.items():
        windows = watch_windows(start, start + timedelta(seconds=seconds), 30, 3600)[:-1]  # the stack's defaults
        counts = poll_counts(start, windows)
        n_windows, total_polls = len(windows), sum(counts)
        design_transitions = (
            design["parent fixed transitions"] + design["parent transitions per window"] * n_windows
            + (design["transitions per poll"] * total_polls + design["child overhead transitions"] * n_windows)
        )  # fmt: skip
        parent_events = design["parent fixed events"] + design["parent events per window"] * n_windows
        largest_child = design["events per poll"] * max(counts) + design["child overhead events"]
        naive_polls = seconds // 30
        naive_events = naive["events per poll"] * naive_polls + 4
        over = " (over the limit: fails)" if naive_events > EVENT_LIMIT else ""
        rows.append({
            "run": label,
            "design transitions": round(design_transitions),
            "design cost USD": design_transitions * PRICE_PER_TRANSITION,
            "design history": f"parent {parent_events:,.0f}, largest child {largest_child:,.0f}",
            "design safety-net poll bound s": max(w["seconds"] for w in windows),
            "naive transitions": round(naive["transitions per poll"] * naive_polls),
            "naive cost USD": naive["transitions per poll"] * naive_polls * PRICE_PER_TRANSITION,
            "naive history": f"{naive_events:,.0f}{over}",
            "naive detection bound s": 30,
        })  # fmt: skip
    return rows


def poll_counts(start: datetime, windows: list[dict[str, Any]]) -> list[int]:
    counts, begin = [], start
    for window in windows:
        end = parse_iso_utc(window["until"])
        counts.append(-(-int((end - begin).total_seconds()) // window["seconds"]))
        begin = end
    return counts


def _by_state(events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str | None]]:
    """Each event with the state it belongs to (the last state entered)."""
    current, attributed = None, []
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details:
            current = details["name"]
        attributed.append((event, current))
    return attributed
