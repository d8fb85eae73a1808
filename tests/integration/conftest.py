"""Integration fixtures: the session's local engine (LocalStack + instance agent) with the stack deployed, shared
by the session's xdist workers (engine_session.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from longtask.client import LongTaskClient, new_run_id
from longtask.local.paths import EnginePaths
from longtask.local.plugins.faults import add_rules, remove_rules
from longtask.waiting import poll_condition

from . import engine_session
from .engine_session import ROOT, STACK


@pytest.fixture(scope="session")
def client() -> LongTaskClient:
    return engine_session.join(EnginePaths.default())


TURNS = engine_session.Turns(EnginePaths.default())
NEXT_ALONE = pytest.StashKey[bool]()


def alone(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker("exclusive") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Note whether the worker's next test needs the engine alone too (xdist gives a worker's next test)."""
    item.stash[NEXT_ALONE] = alone(nextitem)


@pytest.fixture(autouse=True)
def engine_turn(request: pytest.FixtureRequest, client: LongTaskClient) -> Iterator[None]:
    """Each test holds the engine while it runs: side by side with others, or alone if marked `exclusive`."""
    with TURNS.turn(alone(request.node), hand_on=request.node.stash.get(NEXT_ALONE, False)):
        yield


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def longtask(client: LongTaskClient) -> Any:
    """Run the `longtask` CLI against the test stack."""

    def run(*args: str, stdin: str | None = None) -> CliResult:
        stack = [] if "--stack" in args else ["--stack", STACK]  # the test stack, unless a test names another
        command = [str(Path(sys.executable).with_name("longtask")), *args, *stack]
        completed = subprocess.run(command, capture_output=True, text=True, input=stdin, timeout=300, cwd=ROOT)
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    return run


@pytest.fixture
def fault_plan(client: LongTaskClient) -> Iterator[Callable[..., str]]:
    """Add rules to the local engine's EC2 fault plan for one run: they apply to that run only (tests run side
    by side), and are removed afterwards. Returns the run id to start the run with."""
    path, run_id = EnginePaths.default().faults_file, new_run_id()

    def add(*rules: dict[str, Any]) -> str:
        add_rules(path, [{**rule, "runId": run_id} for rule in rules])
        return run_id

    yield add
    remove_rules(path, run_id)


def default_image(client: LongTaskClient) -> str:
    """The image the stack launches (the latest Amazon Linux 2023, from its public SSM parameter)."""
    name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    return client.target.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]


def stack_output(client: LongTaskClient, name: str, stack_name: str = STACK) -> str:
    stack = client.target.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == name)


def executions(client: LongTaskClient, state_machine_arn: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """The state machine's executions, newest first, every page (with tests side by side, more than one); only
    those started at or after `since`, if given."""
    found = []
    for page in client.stepfunctions.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        for execution in page["executions"]:
            if since and execution["startDate"] < since:
                return found
            found.append(execution)
    return found


def run_started_for(client: LongTaskClient, script_uri: str, since: datetime) -> dict[str, Any] | None:
    """The execution (described) that an upload of the script at `since` started, if any."""
    for execution in executions(client, client.stack.state_machine_arn, since - timedelta(seconds=1)):
        described = client.stepfunctions.describe_execution(executionArn=execution["executionArn"])
        if json.loads(described["input"]).get("scriptS3Uri") == script_uri:
            return described
    return None


def instances_of(client: LongTaskClient, run_id: str) -> list[dict[str, Any]]:
    """Every instance launched for the run, with its state."""
    run_tag = {"Name": "tag:longtask:run-id", "Values": [run_id]}
    reservations = client.target.client("ec2").describe_instances(Filters=[run_tag])
    return [instance for r in reservations["Reservations"] for instance in r["Instances"]]


def terminate_as(client: LongTaskClient, instance_id: str, state_reason: str | None = None) -> None:
    """TerminateInstances; state_reason makes EC2 record why (the local engine's ec2_provider.py)."""
    ec2 = client.target.client("ec2")
    if state_reason:
        ec2.meta.events.register(
            "before-sign.ec2.TerminateInstances",
            lambda request, **_: request.headers.__setitem__("x-longtask-state-reason", state_reason),
        )
    ec2.terminate_instances(InstanceIds=[instance_id])


def live_instances(client: LongTaskClient, run_id: str) -> list[str]:
    return [i["InstanceId"] for i in instances_of(client, run_id) if i["State"]["Name"] in ("pending", "running")]


def assert_final(client: LongTaskClient, run_id: str, status: str) -> dict[str, Any]:
    """The run ended in `status`: execution over, Runs item final, no instance of it alive."""
    record = client.wait(run_id)
    assert record["status"] == status, record
    assert client.item(run_id)["status"] == status
    assert poll_condition(lambda: live_instances(client, run_id) == [], timeout=20)
    return record


def wait_until_running(client: LongTaskClient, run_id: str) -> dict[str, Any]:
    assert poll_condition(lambda: b"started" in client.log_since(run_id, 0), timeout=60)
    return client.item(run_id)


def invoke_function(client: LongTaskClient, output: str, event: dict[str, Any]) -> dict[str, Any]:
    """Invoke the stack's function named by that output with the event; its answer (it must not fail)."""
    response = client.target.client("lambda").invoke(
        FunctionName=stack_output(client, output), Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


@contextmanager
def rules_without_targets(client: LongTaskClient, function: str, stack: str = STACK) -> Iterator[None]:
    """The stack's EventBridge rules that invoke a function (by its logical id), without their targets for a
    while: as if every event they would deliver were lost."""
    events = client.target.client("events")
    names = [rule["Name"] for rule in events.list_rules(NamePrefix=f"{stack}-")["Rules"] if function in rule["Name"]]
    targets = {name: events.list_targets_by_rule(Rule=name)["Targets"] for name in names}
    assert names and all(targets.values())
    for name, rule_targets in targets.items():
        events.remove_targets(Rule=name, Ids=[target["Id"] for target in rule_targets])
    try:
        yield
    finally:
        for name, rule_targets in targets.items():
            events.put_targets(Rule=name, Targets=rule_targets)
