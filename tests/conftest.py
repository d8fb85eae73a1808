"""The session's hooks around the local engine its integration tests share (integration/engine_session.py).

Here, not in integration/conftest.py: under pytest-xdist the controller collects nothing, so only this conftest
runs in it, and the controller is what outlives every worker.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from longtask_engine.paths import EnginePaths

from .integration import engine_session

FOUND: dict[str, list] = {}  # what the session left behind, reported by pytest_terminal_summary
STARTED: list[float] = []
ONE_WORKER = "one-worker"  # the xdist group of the tests that need the engine alone, then of those run in turn


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        STARTED.append(time.monotonic())
        engine_session.begin()


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which names each test of a group after it
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need the engine alone first, then those that run in turn, then the tests that need no engine,
    then the others, the slow first, the longest first. The first two kinds are one xdist group (`--dist
    loadgroup`): one worker runs them one after another, the first with the engine to itself while the others run
    the tests that need no engine, the second beside the rest; the rest go to whichever worker is free, so that the
    slow ones start side by side as soon as the engine is shared again (a slow test started last would end the
    session alone; one started behind another, on the same worker, too). A group of its own for the tests run in
    turn would not wait behind the first: xdist hands out the largest groups first, so a second worker would wait
    for the engine instead of running the tests that need none."""
    def order(item: pytest.Item) -> tuple[int, float]:
        for rank, marker in enumerate(("exclusive", "in_turn")):
            if item.get_closest_marker(marker):
                item.add_marker(pytest.mark.xdist_group(ONE_WORKER))
                return 0, rank
        if "integration" not in item.path.parts:
            return 1, 0
        slow = item.get_closest_marker("slow")
        return (2, -slow.kwargs.get("seconds", 60)) if slow else (3, 0)

    items.sort(key=order)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return
    FOUND.update(engine_session.finish(EnginePaths.default()) or {})
    if any(FOUND.values()):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures: scenarios passed, runs lost, instances leaked; for the whole suite, recorded for `make bench`."""
    if not FOUND:
        return
    passed = len(terminalreporter.stats.get("passed", []))
    failed = len(terminalreporter.stats.get("failed", [])) + len(terminalreporter.stats.get("error", []))
    terminalreporter.section("local engine figures")
    terminalreporter.write_line(f"scenarios passed: {passed} of {passed + failed}")
    for name, found in FOUND.items():
        terminalreporter.write_line(f"{name}: {len(found)}" + (f" {found}" if found else ""))
    config = terminalreporter.config
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS or config.option.keyword or config.option.markexpr:
        return  # not the whole suite, as `make test` runs it: not what `make bench` shows
    session = {"command": " ".join(["pytest", *sys.argv[1:]]), "passed": passed, "tests": passed + failed,
               "workers": getattr(config.option, "numprocesses", None) or 1,
               "seconds": time.monotonic() - STARTED[0], "finished": datetime.now(UTC).isoformat(timespec="seconds"),
               **{name: len(found) for name, found in FOUND.items()}}  # fmt: skip
    EnginePaths.default().last_test_session.write_text(json.dumps(session, indent=1))
