"""The `.sync` task the engine loads into LocalStack: it looks at its child when it starts, when the child ends,
and every LOOK_SECONDS in between; never in a loop."""

from __future__ import annotations

import gc
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


def test_a_task_looks_at_first_then_only_when_its_child_ends(
    child_ends: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    monkeypatch.setattr(child_ends.time, "monotonic", lambda: now[0])
    ends, child = child_ends.ChildEnds(), Child()
    resolve = child_ends.looking_at_ends(child.look, ends.watch("arn:child"))
    assert resolve() is None and child.looks == 1  # the first look: the child runs
    for _ in range(5):
        assert resolve() is None
    assert child.looks == 1  # waited for the end, no look
    now[0] += child_ends.LOOK_SECONDS
    assert resolve() is None and child.looks == 2  # the net: a look every LOOK_SECONDS
    child.output = {"status": "SUCCEEDED"}
    ends.ended("arn:child")
    assert resolve() == {"status": "SUCCEEDED"} and child.looks == 3  # at once, not at the next net look


def test_an_end_told_during_a_look_is_looked_at_again(child_ends: types.ModuleType) -> None:
    ends, child = child_ends.ChildEnds(), Child()
    end = ends.watch("arn:child")

    def look_while_it_ends() -> dict | None:
        found = child.look()  # the look saw RUNNING, and the child ended just after
        child.output = {"status": "FAILED"}
        ends.ended("arn:child")
        return found

    resolve = child_ends.looking_at_ends(look_while_it_ends, end)
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
