"""Queues under load (issue 33): a fan-out through a capped queue against its ideal, how soon a freed slot is
taken, what an hour of waiting costs in state transitions, and a launch storm paced by EC2's token bucket."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from launcher.queueing import FIRST_RETRY_SECONDS, QUEUE_RETRY_SECONDS
from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient, new_run_id

FIVE_SECONDS = {"script": "sleep 5\n"}
ONE_SECOND = {"script": "sleep 1\n"}


def _queue(client: LongTaskClient, max_runs: int) -> str:
    name = f"bench-{new_run_id()}"
    client.set_queue(name, max_runs, None)
    return name


def _wall(client: LongTaskClient, run_input: dict[str, Any], n: int) -> tuple[float, list[str], list[dict]]:
    started = time.perf_counter()
    run_ids = [client.start(run_input) for _ in range(n)]
    records = client.wait_all(run_ids)
    return time.perf_counter() - started, run_ids, records


@contextmanager
def _peak(client: LongTaskClient, queue: str) -> Iterator[list[int]]:
    """The queue's slots held, sampled every 0.2 s."""
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], client.queues.usage(queue).running)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def fan_out(client: LongTaskClient, runs: int = 200, cap: int = 20) -> dict[str, Any]:
    """`runs` runs of a 5 s script at once into a queue of `cap`, against `runs / cap` waves of the time `cap` runs
    take alone (measured first, in the same bench)."""
    alone, _, _ = _wall(client, {**FIVE_SECONDS, "queue": _queue(client, cap)}, cap)
    queue = _queue(client, cap)
    with _peak(client, queue) as peak:
        wall, _, records = _wall(client, {**FIVE_SECONDS, "queue": queue}, runs)
    ideal = alone * runs / cap
    return {"runs": runs, "queue cap": cap, "succeeded": sum(r["status"] == "SUCCEEDED" for r in records),
            "peak slots": peak[0], f"{cap} alone s": alone, "ideal s": ideal, "wall s": wall,
            "times ideal": wall / ideal, "goal": "≤ 1.3 times"}  # fmt: skip


def _events(client: LongTaskClient, run_id: str) -> list[dict[str, Any]]:
    pages = client.stepfunctions.get_paginator("get_execution_history").paginate(
        executionArn=client.execution_arn(run_id))
    return [event for page in pages for event in page["events"]]


def _state_times(events: list[dict[str, Any]], state: str, kind: str) -> list[datetime]:
    """When each entry of `state` exited ("StateExited") or entered ("StateEntered")."""
    details = "stateExitedEventDetails" if kind == "StateExited" else "stateEnteredEventDetails"
    return [e["timestamp"] for e in events if e["type"].endswith(kind) and e.get(details, {}).get("name") == state]


def slot_handover(client: LongTaskClient, chain: int = 12) -> dict[str, Any]:
    """A queue of 1 and `chain` one-second runs: from the outcome step that gives a slot back (its exit) to the
    next run's launch (its Launch Instance's exit with an instance)."""
    queue = _queue(client, 1)
    run_ids = [client.start({**ONE_SECOND, "queue": queue}) for _ in range(chain)]
    records = client.wait_all(run_ids)
    freed = sorted(_state_times(_events(client, r), "Collect Outcome", "StateExited")[-1] for r in run_ids)
    launched = sorted(_state_times(_events(client, r), "Launch Instance", "StateExited")[-1] for r in run_ids)
    gaps = [(launch - free).total_seconds() for free, launch in zip(freed, launched[1:], strict=False)]
    return {"runs": chain, "succeeded": sum(r["status"] == "SUCCEEDED" for r in records),
            "p50 s": statistics.median(gaps), "max s": max(gaps), "goal": "p50 ≤ 1 s"}  # fmt: skip


def transitions_while_waiting(client: LongTaskClient, seconds: float = 200) -> dict[str, Any]:
    """A run that waits for capacity (the engine's fault plan refuses its launches) for `seconds`: the state
    transitions per wait cycle, measured, then scaled to an hour of waiting at the 10-minute steady period (and
    the first hour, with its shorter backoff). Scaled, not measured over an hour."""
    from longtask_engine.in_localstack.plugins.faults import add_rules, remove_rules

    run_id, path = new_run_id(), EnginePaths.default().faults_file
    add_rules(path, [{"operation": "RunInstances", "code": "InsufficientInstanceCapacity", "runId": run_id,
                      "forSeconds": seconds}])  # fmt: skip
    try:
        client.start(ONE_SECOND, run_id)
        record = client.wait(run_id)
    finally:
        remove_rules(path, run_id)
    events = _events(client, run_id)
    launched = _state_times(events, "Launch Instance", "StateExited")[-1]
    waiting = [e for e in events if e["type"].endswith("StateEntered") and e["timestamp"] < launched]
    cycles = len(_state_times(events, "Wait For Slot", "StateEntered"))
    per_cycle = (len(waiting) - 2) / cycles  # Start Run is not the wait's, nor is the Launch Instance that launched
    first_hour = _cycles_in(3600, first=FIRST_RETRY_SECONDS, cap=QUEUE_RETRY_SECONDS)
    steady = per_cycle * 3600 / QUEUE_RETRY_SECONDS
    return {"waited s": seconds, "status": record["status"], "cycles": cycles, "transitions per cycle": per_cycle,
            "per hour, steady (scaled)": steady, "first hour (scaled)": per_cycle * first_hour,
            "goal": "≤ 30 an hour"}  # fmt: skip


def _cycles_in(seconds: float, first: float, cap: float) -> float:
    """Tries within `seconds` of a wait whose timer is as long as the wait so far, at least `first`, at most `cap`
    (launcher/queueing.py)."""
    cycles, elapsed = 0.0, 0.0
    while elapsed + (timer := min(max(elapsed, first), cap)) <= seconds:
        elapsed, cycles = elapsed + timer, cycles + 1
    return cycles + (seconds - elapsed) / timer


def launch_storm(client: LongTaskClient, runs: int = 100, size: int = 10, refill: float = 0.5) -> dict[str, Any]:
    """`runs` runs at once through RunInstances buckets (request and per instance) of `size`, refilled at `refill`
    a second: the bound is (runs - size) / refill seconds. The engine counts the calls it refused."""
    paths = EnginePaths.default()
    bucket = {"size": size, "refill": refill}
    paths.limits_file.write_text(json.dumps({"buckets": {"RunInstances": bucket, "RunInstances/instances": bucket}}))
    refused_before = _refused(paths)
    try:
        started = time.perf_counter()
        run_ids = [client.start({"script": "echo hi"}) for _ in range(runs)]
        records = client.wait_all(run_ids)
        launches = [_state_times(_events(client, r), "Launch Instance", "StateExited")[-1] for r in run_ids]
    finally:
        paths.limits_file.unlink(missing_ok=True)
    first = min(e["timestamp"] for r in run_ids[:1] for e in _events(client, r))
    last_launch = (max(launches) - first).total_seconds()
    bound = (runs - size) / refill
    refused = _refused(paths) - refused_before
    succeeded = sum(r["status"] == "SUCCEEDED" for r in records)
    return {"runs": runs, "bucket": f"{size}, +{refill}/s", "succeeded": succeeded,
            "bound s": bound, "all launched s": last_launch, "times bound": last_launch / bound, "goal": "≤ 1.2 times",
            "refused RunInstances": refused, "wall s": time.perf_counter() - started}  # fmt: skip


def _refused(paths: EnginePaths) -> int:
    """RunInstances requests the engine refused with RequestLimitExceeded so far."""
    if not paths.throttled_file.exists():
        return 0
    return json.loads(paths.throttled_file.read_text()).get("RunInstances", 0)
