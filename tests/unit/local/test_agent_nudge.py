"""The nudges the engine's EC2 gives the instance agent at a launch or a termination."""

from __future__ import annotations

import select
from pathlib import Path

from longtask_engine.agent_nudge import Nudges, nudge


def test_a_nudge_ends_the_agent_s_wait_and_all_nudges_so_far_are_one_look(tmp_path: Path) -> None:
    path = tmp_path / "agent-nudges"
    nudge(path, "i-0")  # no agent listening yet: lost quietly (its first look finds what changed)
    nudges = Nudges(path)
    try:
        assert nudges.wait(0) is None  # nothing yet: the wait runs out
        nudge(path, "i-1")
        nudge(path, "i-2", "i-3")
        nudge(path, "i-1")
        assert nudges.wait(5) == {"i-1", "i-2", "i-3"}  # the look is at the instances named
        assert nudges.wait(0) is None  # the three were taken together
    finally:
        nudges.close()


def test_a_nudge_that_names_none_or_too_many_is_a_look_at_all(tmp_path: Path) -> None:
    path = tmp_path / "agent-nudges"
    nudges = Nudges(path)
    try:
        nudge(path, "i-1")
        nudge(path)
        assert nudges.wait(5) == set()
        nudge(path, *(f"i-{n:017x}" for n in range(select.PIPE_BUF // 10)))  # too long a line for a pipe to keep whole
        assert nudges.wait(5) == set()
    finally:
        nudges.close()


def test_an_agent_that_was_killed_leaves_a_pipe_the_next_one_makes_again(tmp_path: Path) -> None:
    path = tmp_path / "agent-nudges"
    Nudges(path).close()  # the file stays, as after a SIGKILL
    nudges = Nudges(path)
    try:
        nudge(path, "i-1")
        assert nudges.wait(5) == {"i-1"}
    finally:
        nudges.close()
