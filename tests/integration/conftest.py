"""Integration fixtures: the local engine (LocalStack + instance agent) with the stack deployed.

The session starts the engine if it is not up and stops it at the end if it started it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from longtask.cli.options import LOCAL_STACK_PARAMETERS
from longtask.client import LongTaskClient, Target
from longtask.local import engine
from longtask.local.deploy import deploy
from longtask.local.localstack import endpoint_url
from longtask.local.paths import EnginePaths

ROOT = Path(__file__).resolve().parents[2]
STACK = "longtask-it"


@pytest.fixture(scope="session")
def client() -> Iterator[LongTaskClient]:
    paths = EnginePaths.default()
    started = engine.up(paths)
    try:
        target = Target(stack_name=STACK, endpoint_url=endpoint_url())
        deploy(target.client("cloudformation"), target.client("s3"), STACK, LOCAL_STACK_PARAMETERS, paths)
        yield LongTaskClient(target)
    finally:
        if started:
            engine.down(paths)


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
        command = [str(Path(sys.executable).with_name("longtask")), *args, "--stack", STACK]
        completed = subprocess.run(command, capture_output=True, text=True, input=stdin, timeout=300, cwd=ROOT)
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    return run


def instances_of(client: LongTaskClient, run_id: str) -> list[dict[str, Any]]:
    """Every instance launched for the run, with its state."""
    reservations = client.ec2.describe_instances(Filters=[{"Name": "tag:longtask:run-id", "Values": [run_id]}])
    return [instance for r in reservations["Reservations"] for instance in r["Instances"]]


def live_instances(client: LongTaskClient, run_id: str) -> list[str]:
    return [i["InstanceId"] for i in instances_of(client, run_id) if i["State"]["Name"] in ("pending", "running")]
