"""Scale, measured (issue 38): the AWS calls a run makes, per API action and per principal, counted from the
engine's decision log (.longtask/iam-decisions.jsonl: a line with "call" for each request) over local runs of each
shape, one shape at a time; and the state transitions from their execution histories.

The reaper's 5-minute schedule is paused while counting: its sweep is the account's, not a run's (the model adds
it per sweep). The user's own StartExecution is not in the log (the bench calls as the account): the model adds it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from longtask_engine.host.interruptions import send_spot_interruption
from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient, new_run_id
from longtask.waiting import poll_condition

from .histories import history, polls, transitions

Key = tuple[str, str]  # (principal, action)
QUIET_SECONDS = 3.0  # no new decision for this long after the last run ended: its trailing calls are in


@dataclass
class Calls:
    """What some runs cost the control plane: requests by (principal, action), and their workflows' transitions,
    safety-net polls, watch windows (child executions), waits for a queue's slot and launches."""

    requests: dict[Key, float] = field(default_factory=dict)
    transitions: float = 0
    polls: int = 0
    windows: int = 0
    waits: int = 0
    launches: int = 0

    def plus(self, other: Calls, times: float = 1.0) -> Calls:
        """Requests and transitions of both (`times` of the other; negative to take it away)."""
        keys = set(self.requests) | set(other.requests)
        requests = {k: self.requests.get(k, 0) + times * other.requests.get(k, 0) for k in keys}
        return Calls(requests, self.transitions + times * other.transitions)

    def per(self, n: float) -> Calls:
        """This much for each of n, nothing below zero (what a count's noise would leave)."""
        return Calls({k: v / n for k, v in self.requests.items() if v > 0}, max(self.transitions, 0) / n)

    def actions(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for (_, action), count in self.requests.items():
            total[action] = total.get(action, 0) + count
        return total


def principal_name(principal: str, resource: str, stack: str) -> str | None:
    """A role of the stack by its logical name ("LauncherFunctionRole"), or the AWS service calling on the
    stack's behalf; None for anything else (another stack, the bench itself)."""
    if principal.endswith(".amazonaws.com"):
        return principal.split(".")[0] if stack in resource else None
    role = principal.rsplit("/", 1)[-1]
    if not role.startswith(f"{stack}-"):
        return None
    return role.removeprefix(f"{stack}-").rsplit("-", 1)[0]


def read_calls(log: Path, offset: int, stack: str) -> Counter[Key]:
    counted: Counter[Key] = Counter()
    with log.open("rb") as decisions:
        decisions.seek(offset)
        for line in decisions:
            decision = json.loads(line)
            name = principal_name(decision["principal"], decision.get("resource", ""), stack)
            if "call" in decision and name is not None:
                counted[(name, decision["call"])] += 1
    return counted


def _quiet(log: Path) -> None:
    """Wait until the log has not grown for QUIET_SECONDS."""
    size, since = log.stat().st_size, time.monotonic()
    while time.monotonic() - since < QUIET_SECONDS:
        time.sleep(0.5)
        now = log.stat().st_size
        if now != size:
            size, since = now, time.monotonic()


@contextmanager
def sweep_paused(client: LongTaskClient, stack: str) -> Iterator[None]:
    """The reaper's schedule off for a while (its rule disabled, as an operator would), on again after."""
    events = client.target.client("events")
    rules = events.list_rules(NamePrefix=f"{stack}-")["Rules"]
    names = [r["Name"] for r in rules if "ReaperFunctionSweep" in r["Name"]]
    for name in names:
        events.disable_rule(Name=name)
    try:
        yield
    finally:
        for name in names:
            events.enable_rule(Name=name)


def measure(client: LongTaskClient, paths: EnginePaths, stack: str, watcher: str,
            start: Callable[[], list[str]]) -> Calls:  # fmt: skip
    """The calls made from before `start` starts its runs until they have ended and the log is quiet."""
    log = paths.iam_decisions
    _quiet(log)
    offset = log.stat().st_size
    run_ids = start()
    records = client.wait_all(run_ids, interval=0.5)
    assert all(r["status"] == "SUCCEEDED" for r in records), records
    _quiet(log)
    calls = Calls(dict(read_calls(log, offset, stack)))
    for run_id in run_ids:
        parent = history(client.stepfunctions, client.execution_arn(run_id))
        calls.transitions += transitions(parent)
        calls.waits += sum(1 for e in parent if _entered(e) == "Wait For Slot")
        calls.launches += sum(1 for e in parent if _entered(e) == "Record Run Started")
        for child in _children(client, watcher, run_id):
            events = history(client.stepfunctions, child)
            calls.windows += 1
            calls.polls += polls(events)
            calls.transitions += transitions(events)
    return calls


def _entered(event: dict[str, Any]) -> str | None:
    return (event.get("stateEnteredEventDetails") or {}).get("name")


def _children(client: LongTaskClient, watcher: str, run_id: str) -> list[str]:
    pages = client.stepfunctions.get_paginator("list_executions").paginate(stateMachineArn=watcher)
    return [e["executionArn"] for page in pages for e in page["executions"] if e["name"].startswith(f"{run_id}-a")]


@dataclass(frozen=True)
class Profile:
    """A run's calls by what drives them: once per run, per safety-net poll, per watch window, per try that waits
    for a queue's slot, per Spot relaunch."""

    run: Calls
    poll: Calls
    window: Calls
    wait: Calls
    relaunch: Calls
    measured: dict[str, Calls]


def profile(client: LongTaskClient, paths: EnginePaths, stack: str) -> Profile:
    """Measure each shape and take the profile apart: a trivial run and two watched ones (1 s polls doubling to
    4 s; a steady 2 s) give a run's, a poll's and a window's share (each count is run + polls * poll + windows *
    window); a Spot run interrupted once and a run waiting for a queue's slot behind another give the rest."""
    watcher = _watcher_arn(client, stack)
    doubling = {"script": "sleep 20\n", "pollSeconds": 1, "maxPollSeconds": 4}
    steady = {"script": "sleep 20\n", "pollSeconds": 2, "maxPollSeconds": 2}
    shapes: dict[str, Callable[[], list[str]]] = {
        "trivial": lambda: [client.start({"script": "true\n"})],
        "polled, 1 s doubling to 4 s": lambda: [client.start(doubling)],
        "polled, steady 2 s": lambda: [client.start(steady)],
        "Spot, interrupted once": lambda: [_interrupted(client, paths)],
        "queued behind another": lambda: _queued_pair(client),
    }
    with sweep_paused(client, stack):
        measured = {name: measure(client, paths, stack, watcher, start) for name, start in shapes.items()}
    trivial, a, b = measured["trivial"], measured["polled, 1 s doubling to 4 s"], measured["polled, steady 2 s"]
    poll, window = _poll_and_window(trivial, a, b)
    run = trivial.plus(poll, -trivial.polls).plus(window, -trivial.windows).per(1)

    def rest(calls: Calls, runs: int) -> Calls:
        """What a shape made beyond its runs, polls and windows."""
        return calls.plus(run, -runs).plus(poll, -calls.polls).plus(window, -calls.windows)

    queued, spot = measured["queued behind another"], measured["Spot, interrupted once"]
    return Profile(run=run, poll=poll, window=window, wait=rest(queued, 2).per(max(queued.waits, 1)),
                   relaunch=rest(spot, 1).per(max(spot.launches - 1, 1)), measured=measured)  # fmt: skip


def _poll_and_window(base: Calls, a: Calls, b: Calls) -> tuple[Calls, Calls]:
    """Per poll and per window: each count of a watched run less the trivial run's is polls * p + windows * w,
    two equations for p and w."""
    pa, wa, pb, wb = a.polls - base.polls, a.windows - base.windows, b.polls - base.polls, b.windows - base.windows
    det = pa * wb - pb * wa
    if det == 0:
        raise ValueError(f"the watched runs cannot be told apart: polls {pa}, {pb}; windows {wa}, {wb}")
    da, db = a.plus(base, -1), b.plus(base, -1)
    keys = set(da.requests) | set(db.requests)
    poll = Calls({k: (da.requests.get(k, 0) * wb - db.requests.get(k, 0) * wa) / det for k in keys},
                 (da.transitions * wb - db.transitions * wa) / det)  # fmt: skip
    window = Calls({k: (pa * db.requests.get(k, 0) - pb * da.requests.get(k, 0)) / det for k in keys},
                   (pa * db.transitions - pb * da.transitions) / det)  # fmt: skip
    return poll.per(1), window.per(1)


def _interrupted(client: LongTaskClient, paths: EnginePaths) -> str:
    run_id = client.start({"script": "sleep 8\n", "spot": True, "retries": 1})
    assert poll_condition(lambda: (client.item(run_id) or {}).get("status") == "RUNNING", 60, 0.2)
    send_spot_interruption(client.target.client("ec2"), paths, run_id, seconds=2)
    return run_id


def _queued_pair(client: LongTaskClient) -> list[str]:
    """A run holding a queue's one slot for a few seconds, and a trivial one waiting for it."""
    queue = f"scale-{new_run_id()}"
    client.set_queue(queue, 1, None)
    holder = client.start({"script": "sleep 6\n", "queue": queue})
    assert poll_condition(lambda: client.queues.usage(queue).running == 1, 60, 0.2)
    return [holder, client.start({"script": "true\n", "queue": queue})]


def _watcher_arn(client: LongTaskClient, stack: str) -> str:
    outputs = client.target.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "WatcherStateMachineArn")
