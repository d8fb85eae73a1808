"""The nudges the engine's EC2 gives the instance agent at a launch or a termination."""

from __future__ import annotations

from pathlib import Path

from longtask.local.agent_nudge import Nudges, nudge


def test_a_nudge_ends_the_agent_s_wait_and_all_nudges_so_far_are_one_look(tmp_path: Path) -> None:
    path = tmp_path / "agent-nudges"
    nudge(path)  # no agent listening yet: lost quietly (its first look finds what changed)
    nudges = Nudges(path)
    try:
        assert nudges.wait(0) is False  # nothing yet: the wait runs out
        for _ in range(3):
            nudge(path)
        assert nudges.wait(5) is True
        assert nudges.wait(0) is False  # the three were taken together
    finally:
        nudges.close()


def test_an_agent_that_was_killed_leaves_a_pipe_the_next_one_makes_again(tmp_path: Path) -> None:
    path = tmp_path / "agent-nudges"
    Nudges(path).close()  # the file stays, as after a SIGKILL
    nudges = Nudges(path)
    try:
        nudge(path)
        assert nudges.wait(5) is True
    finally:
        nudges.close()
