"""The local engine one test session shares across its pytest-xdist workers.

The first worker that needs the engine starts it (unless it runs) and deploys the stacks, under a lock; the
others join it. Tests run side by side on it; a test marked `exclusive` (it changes what every run depends on:
EventBridge targets, the reaper's rules) has it alone; the IAM mutation tests change the roles of a stack of
their own (IAM_STACK). At the session's end the controller (the only process, without
xdist) looks for what the runs left behind, then stops the engine if the session started it.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from longtask_engine.host import engine
from longtask_engine.host.deploy import deploy
from longtask_engine.host.localstack import LAMBDA_RETRY_DELAY_ENV
from longtask_engine.paths import EnginePaths

from longtask import deployment
from longtask.client import LongTaskClient
from longtask.common.statuses import ACTIVE

ROOT = Path(__file__).resolve().parents[2]
SESSION_ENV = "LONGTASK_TEST_SESSION"  # the session's id, inherited by its xdist workers
STACK = "longtask-it"
SCRIPTS_BUCKET = "longtask-it-scripts"  # scripts kept outside the artifact bucket (ScriptReadArns)
EXAMPLES_STACK = "longtask-it-examples"
IAM_STACK = "longtask-mutations"  # test_iam_mutations.py's, deployed by its first test: its roles lose statements
WEBHOOK_STACK = "longtask-it-webhook"  # test_webhooks.py's: the test stack with a NotifyWebhookUrl
ADDRESS_STACK = "longtask-it-addresses"  # test_addresses.py's: the test stack with a pool of one Elastic IP
PARAMETERS = {  # the local defaults, plus the optional triggers
    **engine.LOCAL_STACK_PARAMETERS,
    "ScriptUploadPrefix": "scripts/",
    "ScheduleExpression": "rate(1 day)",
    "ScheduleInput": '{"script": "echo scheduled run"}',
    "ScriptReadArns": f"arn:aws:s3:::{SCRIPTS_BUCKET}/jobs/*",
    "AllowRunCommandsAndSessions": "true",
    "SecretArns": f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{STACK}/*",
    "SecretParameterArns": f"arn:aws:ssm:us-east-1:000000000000:parameter/{STACK}/*",
    "SecretKmsKeyArns": "arn:aws:kms:us-east-1:000000000000:key/*",
}
MINUTE_SECONDS = 1  # the agent's compressed clock: `shutdown -h +N` fires after N seconds


def begin() -> None:
    """Name this session (in the controller, before its workers start), and shorten Lambda's retries of a failed
    asynchronous invocation for its engine (1 s and 2 s instead of about 1 and 2 minutes)."""
    os.environ.setdefault(SESSION_ENV, uuid.uuid4().hex)
    os.environ.setdefault(LAMBDA_RETRY_DELAY_ENV, "1")


def join(paths: EnginePaths) -> LongTaskClient:
    """The session's engine with the test stacks deployed: the first to ask starts and deploys it."""
    with _locked(paths.state / "test-session.lock"):
        state = _read_state(paths)
        if state.get("session") != os.environ[SESSION_ENV]:
            state = {"session": os.environ[SESSION_ENV], "started": engine.up(paths, MINUTE_SECONDS)}
            _write_state(paths, state)  # before the deploy: if it fails, the session's end still stops the engine
        if not state.get("deployed"):
            client = engine.connect(STACK, PARAMETERS, paths)
            examples = {"LongTaskStateMachineArn": client.stack.state_machine_arn}
            deploy(client.target.client("cloudformation"), client.target.client("s3"), EXAMPLES_STACK, examples,
                   paths, ROOT / "statemachine" / "examples" / "template.yaml")  # fmt: skip
            _write_state(paths, {**state, "deployed": True})
    return LongTaskClient(engine.target(paths, STACK))


class Turns:
    """One worker's holds on the engine, a test at a time: shared, or alone. A test waiting to have it alone goes
    before tests that come after it (it holds the gate), so that tests side by side never keep it waiting; and a
    hold alone is handed on to the worker's next test when that one needs the engine alone too, so that no test
    slips in between (each one that did kept the next test alone waiting until it ended)."""

    def __init__(self, paths: EnginePaths) -> None:
        self.paths = paths
        self._kept: tuple[int, int] | None = None  # the gate's and the engine's lock files, held by the last test

    @contextmanager
    def turn(self, exclusive: bool, hand_on: bool = False) -> Iterator[None]:
        """Hold the engine for one test; hand_on: keep a hold alone for the next test, which needs it alone."""
        if self._kept is not None and not exclusive:  # the next test alone did not run (skipped)
            _release(self._kept)
            self._kept = None
        held, self._kept = self._kept or self._take(exclusive), None
        try:
            yield
        finally:
            if exclusive and hand_on:
                self._kept = held
            else:
                _release(held)

    def _take(self, exclusive: bool) -> tuple[int, int]:
        gate, engine_lock = (os.open(self.paths.state / name, os.O_WRONLY | os.O_CREAT)
                             for name in ("test-gate.lock", "test-engine.lock"))  # fmt: skip
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(engine_lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            if not exclusive:
                fcntl.flock(gate, fcntl.LOCK_UN)
        return gate, engine_lock


def _release(held: tuple[int, int]) -> None:
    for descriptor in held:
        os.close(descriptor)  # and its lock with it


def finish(paths: EnginePaths) -> dict[str, list] | None:
    """At the session's end: what the runs left behind, and the engine stopped if the session started it (None
    when no test used the engine)."""
    state = _read_state(paths)
    if state.get("session") != os.environ.get(SESSION_ENV):
        return None
    _state_file(paths).unlink()
    found: dict[str, list] = {}
    try:
        if state.get("deployed"):
            instances, running = leaks(paths, (STACK, IAM_STACK, WEBHOOK_STACK, ADDRESS_STACK))
            found.update({"instances leaked": instances, "runs lost (still RUNNING)": running})
    finally:
        if state["started"]:
            engine.down(paths)
            found["stray engine processes"] = engine.stray_processes(paths)
            found["LocalStack temporary files left"] = [str(path) for path in [paths.localstack_tmp] if path.exists()]
    return found


def leaks(paths: EnginePaths, stacks: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(instances of the test stacks still alive, runs still RUNNING in their tables), of those deployed."""
    instances: list[str] = []
    running: list[str] = []
    for stack in stacks:
        target = engine.target(paths, stack)
        if deployment.stack_state(target.client("cloudformation"), stack)[0] is None:
            continue  # not deployed this session (LongTaskClient would refuse it)
        client = LongTaskClient(target)
        reservations = client.target.client("ec2").describe_instances(
            Filters=[
                {"Name": "tag:longtask:stack", "Values": [stack]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
            ]
        )["Reservations"]
        instances += [i["InstanceId"] for r in reservations for i in r["Instances"]]
        running += [run["runId"] for run in client.list_runs(limit=100_000) if run.get("status") in ACTIVE]
    return instances, running


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _state_file(paths: EnginePaths) -> Path:
    return paths.state / "test-session.json"


def _read_state(paths: EnginePaths) -> dict:
    path = _state_file(paths)
    return json.loads(path.read_text()) if path.exists() else {}


def _write_state(paths: EnginePaths, state: dict) -> None:
    _state_file(paths).write_text(json.dumps(state))
