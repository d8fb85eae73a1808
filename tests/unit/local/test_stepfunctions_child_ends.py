"""The `.sync` task the engine loads into LocalStack: it looks at its child when it starts, when the child ends,
and every LOOK_SECONDS in between; never in a loop."""

from __future__ import annotations

import gc
import threading
import time
import types
from collections.abc import Callable

import pytest


@pytest.fixture
def child_ends(plugin: Callable[[str], types.ModuleType], monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = plugin("stepfunctions_child_ends")
    monkeypatch.setattr(module, "WAKE_SECONDS", 0.01)
    return module


class Child:
    """DescribeExecution of a child: None while it runs, its output once it ended."""

    def __init__(self) -> None:
        self.looks, self.output = 0, None

    def look(self) -> dict | None:
        self.looks += 1
        return self.output


def test_a_task_looks_at_first_then_as_soon_as_its_child_ends(
    child_ends: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(child_ends, "LOOK_SECONDS", 3600)  # no net look within the test
    ends, child, running = child_ends.ChildEnds(), Child(), threading.Event()
    running.set()
    resolve = child_ends.looking_at_ends(child.look, ends.watch("arn:child"), running=running.is_set)
    assert resolve() is None and child.looks == 1  # the first look, at once: the child runs
    child.output = {"status": "SUCCEEDED"}
    threading.Timer(0.05, ends.ended, ["arn:child"]).start()
    guard = threading.Timer(5, running.clear)  # were the end not to wake it, it would give up here, without a look
    guard.start()
    assert resolve() == {"status": "SUCCEEDED"} and child.looks == 2  # woken by the end
    guard.cancel()


def test_without_an_end_the_net_looks_every_look_seconds(
    child_ends: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(child_ends, "LOOK_SECONDS", 0.1)
    ends, child = child_ends.ChildEnds(), Child()
    resolve = child_ends.looking_at_ends(child.look, ends.watch("arn:child"), running=lambda: True)
    resolve()
    started = time.monotonic()
    assert resolve() is None and child.looks == 2
    assert time.monotonic() - started >= 0.1  # it waited for the net, with no look in between


def test_a_task_whose_execution_stopped_stops_waiting_without_a_look(child_ends: types.ModuleType) -> None:
    ends, child, running = child_ends.ChildEnds(), Child(), threading.Event()
    running.set()
    resolve = child_ends.looking_at_ends(child.look, ends.watch("arn:child"), running=running.is_set)
    resolve()
    threading.Timer(0.05, running.clear).start()
    assert resolve() is None and child.looks == 1


def test_an_end_told_during_a_look_is_looked_at_again(child_ends: types.ModuleType) -> None:
    ends, child = child_ends.ChildEnds(), Child()
    end = ends.watch("arn:child")

    def look_while_it_ends() -> dict | None:
        found = child.look()  # the look saw RUNNING, and the child ended just after
        child.output = {"status": "FAILED"}
        ends.ended("arn:child")
        return found

    resolve = child_ends.looking_at_ends(look_while_it_ends, end, running=lambda: True)
    assert resolve() is None
    assert resolve() == {"status": "FAILED"} and child.looks == 2


def test_ends_of_executions_nobody_waits_for_are_not_kept(child_ends: types.ModuleType) -> None:
    ends = child_ends.ChildEnds()
    ends.ended("arn:before")  # no task watches it: nothing to wake, nothing kept
    end = ends.watch("arn:before")
    assert not end.is_set() and ends.watch("arn:before") is end
    ends.ended("arn:before")
    assert end.is_set()
    del end
    gc.collect()
    assert not ends.watch("arn:before").is_set()  # the task that held it is gone: watched afresh
