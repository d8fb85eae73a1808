"""Integration fixtures: the local engine (LocalStack + instance agent) with the stack deployed.

The session starts the engine if it is not up and stops it at the end if it started it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from longtask.client import LongTaskClient
from longtask.local import engine
from longtask.local.deploy import deploy
from longtask.local.paths import EnginePaths
from longtask.local.plugins.faults import write_plan
from longtask.waiting import poll_condition

ROOT = Path(__file__).resolve().parents[2]
STACK = "longtask-it"
SCRIPTS_BUCKET = "longtask-it-scripts"  # scripts kept outside the artifact bucket (ScriptReadArns)
EXAMPLES_STACK = "longtask-it-examples"
PARAMETERS = {  # the local defaults, plus the optional triggers
    **engine.LOCAL_STACK_PARAMETERS,
    "ScriptUploadPrefix": "scripts/",
    "ScheduleExpression": "rate(1 day)",
    "ScheduleInput": '{"script": "echo scheduled run"}',
    "ScriptReadArns": f"arn:aws:s3:::{SCRIPTS_BUCKET}/jobs/*",
}
MINUTE_SECONDS = 1  # the agent's compressed clock: `shutdown -h +N` fires after N seconds
LEAKS: dict[str, list[str]] = {}  # filled at the end of the session, reported by pytest_terminal_summary


@pytest.fixture(scope="session")
def client() -> Iterator[LongTaskClient]:
    paths = EnginePaths.default()
    started = engine.up(paths, agent_minute_seconds=MINUTE_SECONDS)
    try:
        client = engine.connect(STACK, PARAMETERS, paths)
        examples = {"LongTaskStateMachineArn": client.stack.state_machine_arn}
        deploy(client.target.client("cloudformation"), client.target.client("s3"), EXAMPLES_STACK, examples, paths,
               ROOT / "statemachine" / "examples" / "template.yaml")  # fmt: skip
        yield client
        instances, running = leaks(client)
        LEAKS.update({"instances leaked": instances, "runs lost (still RUNNING)": running})
    finally:
        if started:
            engine.down(paths)
            LEAKS["stray engine processes"] = engine.stray_processes(paths)


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
def fault_plan(client: LongTaskClient) -> Iterator[Any]:
    """Set the local engine's EC2 fault plan for one test (cleared afterwards)."""
    path = EnginePaths.default().faults_file

    def set_rules(*rules: dict[str, Any]) -> None:
        write_plan(path, list(rules))

    yield set_rules
    write_plan(path, [])


def default_image(client: LongTaskClient) -> str:
    """The image the stack launches (the latest Amazon Linux 2023, from its public SSM parameter)."""
    name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    return client.target.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]


def stack_output(client: LongTaskClient, name: str, stack_name: str = STACK) -> str:
    stack = client.target.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == name)


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


def leaks(client: LongTaskClient) -> tuple[list[str], list[str]]:
    """(instances of the test stack still alive, runs still RUNNING in its table)."""
    reservations = client.target.client("ec2").describe_instances(
        Filters=[
            {"Name": "tag:longtask:stack", "Values": [STACK]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
        ]
    )["Reservations"]
    instances = [i["InstanceId"] for r in reservations for i in r["Instances"]]
    running = [run["runId"] for run in client.list_runs(limit=100_000) if run.get("status") == "RUNNING"]
    return instances, running


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if any(LEAKS.values()):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures: scenarios passed, runs lost, instances leaked."""
    if not LEAKS:
        return
    passed = len(terminalreporter.stats.get("passed", []))
    failed = len(terminalreporter.stats.get("failed", [])) + len(terminalreporter.stats.get("error", []))
    terminalreporter.section("local engine figures")
    terminalreporter.write_line(f"scenarios passed: {passed} of {passed + failed}")
    for name, found in LEAKS.items():
        terminalreporter.write_line(f"{name}: {len(found)}" + (f" {found}" if found else ""))


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
    names = [rule["Name"] for rule in events.list_rules(NamePrefix=stack)["Rules"] if function in rule["Name"]]
    targets = {name: events.list_targets_by_rule(Rule=name)["Targets"] for name in names}
    assert names and all(targets.values())
    for name, rule_targets in targets.items():
        events.remove_targets(Rule=name, Ids=[target["Id"] for target in rule_targets])
    try:
        yield
    finally:
        for name, rule_targets in targets.items():
            events.put_targets(Rule=name, Targets=rule_targets)
