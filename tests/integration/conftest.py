"""Integration fixtures: the session's local engine (LocalStack + instance agent) with the stack deployed, shared
by the session's xdist workers (engine_session.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from longtask_engine.in_localstack.plugins.faults import add_rules, remove_rules
from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient, new_run_id

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


@pytest.fixture
def engine_limits() -> Iterator[Callable[[dict[str, Any]], None]]:
    """Set the engine's account limits (vCPU quotas, EC2 token buckets: limits.py); AWS's again afterwards. Account
    wide: a test that uses it has the engine to itself (`exclusive`)."""
    path = EnginePaths.default().limits_file

    def set_limits(limits: dict[str, Any]) -> None:
        path.write_text(json.dumps(limits))

    yield set_limits
    path.unlink(missing_ok=True)
