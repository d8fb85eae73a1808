"""Stall detection on the engine (the agent looks for progress every second): a silent script is reported once,
with diagnostics the stack records and announces; onStall fail ends it STALLED, retry relaunches it from its
checkpoint; a script that prints, or touches its heartbeat, never stalls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from longtask.client import LongTaskClient

from .support import assert_final, run_events_of

SILENT = "echo start\nsleep 12\necho done\n"


@pytest.fixture(scope="module")
def stalls(client: LongTaskClient) -> Iterator[Callable[[str, int], list[dict[str, Any]]]]:
    with run_events_of(client, "LongTask Run Stalled") as events_of:
        yield events_of


def diagnostics(client: LongTaskClient, uri: str) -> dict[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    listed = client.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"].removeprefix(prefix): client.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode()
            for o in listed}  # fmt: skip


def test_a_silent_script_is_reported_stalled_once_with_diagnostics_then_succeeds(client: LongTaskClient,
                                                                                  stalls: Any) -> None:  # fmt: skip
    run_id = client.start({"script": SILENT, "stallSeconds": 4})
    (event,) = stalls(run_id, 1)
    assert event["status"] == "RUNNING" and event["stalledAt"] and event["diagnosticsUri"].endswith("/")
    record = assert_final(client, run_id, "SUCCEEDED")
    assert (record["stalledAt"], record["diagnosticsUri"]) == (event["stalledAt"], event["diagnosticsUri"])
    files = diagnostics(client, record["diagnosticsUri"])
    assert {"processes.txt", "top-cpu.txt", "top-memory.txt", "memory.txt", "disk.txt", "kernel.txt",
            "stall.json"} <= set(files)  # fmt: skip
    sleeping = [line.split() for line in files["processes.txt"].splitlines() if line.split()[-2:] == ["sleep", "12"]]
    assert len(sleeping) == 1 and sleeping[0][2].startswith("S")  # the script's child, asleep
    assert "no progress for " in record["logTail"]
    assert len(stalls(run_id, 1)) == 1  # once: the silence went on, and was not reported again


def test_a_stall_with_on_stall_fail_ends_the_run_stalled(client: LongTaskClient) -> None:
    run_id = client.start({"script": "sleep 30\n", "stallSeconds": 3, "onStall": "fail"})
    record = assert_final(client, run_id, "STALLED")
    assert record["reason"] == "no progress for 3 s (stallSeconds); the script was stopped (onStall fail)"
    assert record["stalledAt"] and record["diagnosticsUri"]
    error = client.stepfunctions.describe_execution(executionArn=client.execution_arn(run_id))["error"]
    assert error == "LongTask.Stalled"


def test_a_stall_with_on_stall_retry_relaunches_from_the_checkpoint(client: LongTaskClient) -> None:
    step = '"$LONGTASK_CHECKPOINT_DIR/step"'
    script = f'if [ -e {step} ]; then echo "resumed at $(cat {step})"; exit 0; fi\necho 7 >{step}\nsleep 60\n'

    run_id = client.start({"script": script, "stallSeconds": 3, "onStall": "retry", "retries": 1})
    record = assert_final(client, run_id, "SUCCEEDED")
    assert record["attempt"] == 1 and "resumed at 7" in record["logTail"]
    assert record["attempts"][0]["exitCode"] == 143


@pytest.mark.parametrize("script", [
    "for i in $(seq 10); do echo tick $i; sleep 1; done\n",
    'for i in $(seq 10); do touch "$LONGTASK_HEARTBEAT_FILE"; sleep 1; done\n',
])  # fmt: skip
def test_a_script_that_shows_progress_never_stalls(client: LongTaskClient, script: str) -> None:
    run_id = client.start({"script": script, "stallSeconds": 4, "onStall": "fail"})
    record = assert_final(client, run_id, "SUCCEEDED")
    assert record["stalledAt"] is None and record["diagnosticsUri"] is None
