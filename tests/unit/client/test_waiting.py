"""The waits the CLI and the engine share."""

from __future__ import annotations

from itertools import islice

from longtask.waiting import growing_intervals, poll_condition


def test_growing_intervals_double_up_to_their_ceiling() -> None:
    assert list(islice(growing_intervals(0.2, 1.0), 6)) == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def test_poll_condition_says_whether_the_condition_came_true_in_time() -> None:
    answers = iter([False, False, True])
    assert poll_condition(lambda: next(answers), timeout=5, interval=0.01)
    assert not poll_condition(lambda: False, timeout=0.05, interval=0.01)
