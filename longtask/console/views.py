"""What the console's pages show, read through the client: the runs (read at most once every 5 s, whoever asks),
a run's workflow graph and timeline, queues, and cost per day and per queue."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..client import LongTaskClient
from ..common.statuses import FINAL
from ..common.timestamps import parse_iso_utc

REFRESH_SECONDS = 5.0  # the Runs table is read at most this often, however many pages are open
PAGE_SIZE = 50
COST_RUNS = 1000  # the retained runs the cost page sums, newest first


@dataclass
class Cached:
    """Answers of one reader, kept REFRESH_SECONDS: pages that poll share them. `reads` counts the real ones."""

    read: Callable[..., Any]
    seconds: float = REFRESH_SECONDS
    reads: int = 0
    _kept: dict[Any, tuple[float, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, *key: Any) -> Any:
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and time.monotonic() - kept[0] < self.seconds:
                return kept[1]
            self.reads += 1
            answer = self.read(*key)
            self._kept[key] = (time.monotonic(), answer)
            return answer


@dataclass(frozen=True)
class State:
    """A state of the workflow as the graph draws it."""

    name: str
    type: str
    next: list[str]
    visited: bool
    current: bool


class Views:
    """The console's reads of one stack."""

    def __init__(self, client: LongTaskClient) -> None:
        self.client = client
        self.runs = Cached(lambda status, queue: client.list_runs(PAGE_SIZE, status or None, queue or None))
        self.all_runs = Cached(lambda: client.list_runs(COST_RUNS))
        self._definitions: dict[str, dict[str, Any]] = {}

    def graph(self, record: dict[str, Any]) -> list[State]:
        """The run's workflow, state by state in the definition's order, with the states its execution entered
        and the one it is in now (while it runs)."""
        arn = self.client.stack.state_machine_arn
        if arn not in self._definitions:
            described = self.client.stepfunctions.describe_state_machine(stateMachineArn=arn)
            self._definitions[arn] = json.loads(described["definition"])
        states = self._definitions[arn]["States"]
        entered: list[str] = []
        history = self.client.stepfunctions.get_paginator("get_execution_history").paginate(
            executionArn=self.client.execution_arn(record["runId"]))  # fmt: skip
        for page in history:
            entered += [event["stateEnteredEventDetails"]["name"] for event in page["events"]
                        if "stateEnteredEventDetails" in event]  # fmt: skip
        running = record.get("status") not in FINAL  # the record read from its execution: no second DescribeExecution
        current = entered[-1] if running and entered else None
        return [State(name, spec["Type"], _next_states(spec), name in entered, name == current)
                for name, spec in states.items()]  # fmt: skip


def _next_states(spec: dict[str, Any]) -> list[str]:
    found = [choice["Next"] for choice in spec.get("Choices", [])]
    found += [catch["Next"] for catch in spec.get("Catch", [])]
    found += [spec[key] for key in ("Next", "Default") if key in spec]
    return list(dict.fromkeys(found))


def timeline(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(time, what happened) of the run, in order: start, waits, attempts, interruptions, stalls, holds, end."""
    events: list[tuple[str, str]] = []
    if record.get("startedAt"):
        events.append((record["startedAt"], "started"))
    if record.get("queuedAt"):
        events.append((record["queuedAt"], f"queued: {record.get('waitReason') or 'waiting'}"))
    for attempt in record.get("attempts") or []:
        events.append((attempt.get("launchedAt") or "", f"attempt {attempt.get('attempt')} on "
                       f"{attempt.get('instanceId')}: {attempt.get('reason') or ''}"))  # fmt: skip
    if record.get("launchedAt"):
        events.append((record["launchedAt"], f"launched {record.get('instanceType')} {record.get('instanceId')}"
                       + (" (Spot)" if record.get("spot") else "")))  # fmt: skip
    for failed in record.get("launchAttempts") or []:
        events.append((record.get("launchedAt") or "", f"launch option refused: {failed}"))
    if record.get("stalledAt"):
        events.append((record["stalledAt"], "stalled (no progress for stallSeconds)"))
    if record.get("holdUntil"):
        events.append((record["holdUntil"], "hold on failure ends at the latest"))
    if record.get("finishedAt"):
        events.append((record["finishedAt"], f"ended {record.get('status')}: {record.get('reason') or ''}"))
    return sorted(events, key=lambda event: event[0])


def duration(record: dict[str, Any]) -> str:
    """How long the run has run (or ran), as 1h 2m 3s."""
    start = record.get("launchedAt") or record.get("startedAt")
    if not start:
        return ""
    end = parse_iso_utc(record["finishedAt"]) if record.get("finishedAt") else None
    seconds = int(((end or _now()) - parse_iso_utc(start)).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    return (f"{hours}h " if hours else "") + f"{rest // 60}m {rest % 60}s"


def cost_by_day_and_queue(records: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Cost (USD) per day of start and per queue, over the records given."""
    by_day: dict[str, float] = defaultdict(float)
    by_queue: dict[str, float] = defaultdict(float)
    for record in records:
        cost = float(record.get("costUsd") or 0)
        day = (record.get("startedAt") or record.get("launchedAt") or record.get("finishedAt") or "")[:10]
        by_day[day or "unknown"] += cost
        by_queue[record.get("queue") or "default"] += cost
    return dict(sorted(by_day.items())), dict(sorted(by_queue.items()))


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
