"""Local latency: the engine cold and warm, and where the time of a run goes."""

from __future__ import annotations

import re
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from longtask.client import LongTaskClient

from .histories import history, last_exit, seconds_between

TRIVIAL = {"script": "echo hello\n"}


def run_once(client: LongTaskClient) -> tuple[str, float]:
    started = time.perf_counter()
    run_id = client.start(TRIVIAL)
    record = client.wait(run_id, interval=0.1)
    assert record["status"] == "SUCCEEDED", record
    return run_id, time.perf_counter() - started


def split(client: LongTaskClient, run_id: str, agent_log: Path) -> dict[str, float]:
    """Where the time of one run went, from its execution histories and the instance agent's log."""
    parent = history(client.stepfunctions, client.execution_arn(run_id))
    powered_off = shut_down_at(agent_log, client.record(run_id)["instanceId"])
    watch_exit = last_exit(parent, "Watch Instance")
    return {
        "launch": seconds_between(parent, "ExecutionStarted", "TaskStateExited", "Launch Instance"),
        "to first poll": seconds_between(parent, "ExecutionStarted", "TaskStateEntered", "Watch Instance"),
        "detection after its shutdown": (watch_exit - powered_off).total_seconds(),
        "outcome fetch": seconds_between(parent, "ExecutionStarted", "TaskStateExited", "Collect Outcome")
        - seconds_between(parent, "ExecutionStarted", "TaskStateEntered", "Collect Outcome"),
        "record": seconds_between(parent, "ExecutionStarted", "TaskStateExited", "Record Run Finished")
        - seconds_between(parent, "ExecutionStarted", "TaskStateEntered", "Record Run Finished"),
    }


def shut_down_at(agent_log: Path, instance_id: str) -> datetime:
    """When the instance agent saw the instance's own shutdown (after its report), to the millisecond."""
    shut = re.search(rf"^(\S+ \S+) INFO {instance_id} shut itself down", agent_log.read_text(), re.M)
    if shut is None:
        raise LookupError(f"{instance_id} did not shut itself down (see {agent_log})")
    return datetime.strptime(shut.group(1), "%Y-%m-%d %H:%M:%S,%f").astimezone()


def warm(client: LongTaskClient, agent_log: Path, runs: int = 5) -> dict[str, Any]:
    """StartExecution → final record, several times, with the median split."""
    results = [run_once(client) for _ in range(runs)]
    totals = [seconds for _, seconds in results]
    splits = [split(client, run_id, agent_log) for run_id, _ in results]
    return {
        "runs": runs,
        "median": statistics.median(totals),
        "min": min(totals),
        "max": max(totals),
        "split": {name: statistics.median(s[name] for s in splits) for name in splits[0]},
    }
