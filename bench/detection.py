"""Detection latency: how long after a run's end the workflow sees it, at pollSeconds 300, with completion events
(this design), without them (today's polling: the signal rules' targets removed), and the naive fixed loop."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition
from tests.integration.support import rules_without_targets

from .cost_model import run_naive
from .histories import history, last_exit
from .latency import shut_down_at

SLOW_POLLS = {"pollSeconds": 300, "maxPollSeconds": 300}
SLEEPER = "echo started\nsleep 3600\n"


def detection(client: LongTaskClient, agent_log: Path, runs: int = 10) -> list[dict[str, Any]]:
    """p50 and max seconds from the end to the workflow seeing it, for a script that ends and for an instance
    terminated from outside: with events (runs one at a time: the latency itself; and all at once: on 2 cores,
    their reports and shutdowns then queue for the CPU), then with the events lost (polling alone, at once)."""
    rows = []
    plans = (("completion events (this)", True, 1), ("completion events (this)", True, runs),
             ("polling only (before)", False, runs))  # fmt: skip
    for design, events, at_once in plans:
        with _events(client, events):
            for ending in ("script ends", "outside termination"):
                outside = ending == "outside termination"
                seconds = [s for _ in range(runs // at_once) for s in _ends_seen(client, agent_log, at_once, outside)]
                rows.append({"design": design, "ending": ending, "runs": f"{runs}, {at_once} at a time",
                             "p50 s": statistics.median(seconds), "max s": max(seconds)})  # fmt: skip
    return rows


def naive_detection(client: LongTaskClient, agent_log: Path, runs: int = 10, poll: int = 30) -> dict[str, Any]:
    """The naive fixed loop at 30 s: seconds from each instance's end to its execution's end."""
    seconds = [(events[-1]["timestamp"] - shut_down_at(agent_log, instance_id)).total_seconds()
               for events, instance_id in run_naive(client, 5, poll, runs)]  # fmt: skip
    return {"design": f"naive fixed {poll} s loop", "ending": "script ends", "runs": runs,
            "p50 s": statistics.median(seconds), "max s": max(seconds)}  # fmt: skip


def _ends_seen(client: LongTaskClient, agent_log: Path, runs: int, from_outside: bool) -> list[float]:
    """Seconds from each run's end (its instance shut itself down after its report, or was terminated) to the
    parent's Watch Instance ending."""
    script = SLEEPER if from_outside else "echo done\n"
    run_ids = [client.start({"script": script, **SLOW_POLLS}) for _ in range(runs)]
    ends: dict[str, datetime] = {}
    if from_outside:
        ec2 = client.target.client("ec2")
        for run_id in run_ids:
            assert poll_condition(lambda r=run_id: b"started" in client.log_since(r, 0), timeout=120)
            ec2.terminate_instances(InstanceIds=[client.item(run_id)["instanceId"]])
            ends[run_id] = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=runs) as pool:
        list(pool.map(lambda run_id: client.wait(run_id, interval=0.5), run_ids))
    seconds = []
    for run_id in run_ids:
        parent = history(client.stepfunctions, client.execution_arn(run_id))
        seen = last_exit(parent, "Watch Instance")
        end = ends.get(run_id) or shut_down_at(agent_log, client.item(run_id)["instanceId"])
        seconds.append((seen - end).total_seconds())
    return seconds


@contextmanager
def _events(client: LongTaskClient, on: bool) -> Iterator[None]:
    """The signal rules as deployed (on), or without their targets (off: every completion event lost)."""
    if on:
        yield
    else:
        with rules_without_targets(client, "SignalFunction", client.target.stack_name):
            yield
