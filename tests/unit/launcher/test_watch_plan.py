"""The watch plan: poll intervals back off, every window stays within its history budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from common.timestamps import parse_iso_utc
from launcher.watch_plan import (
    EVENTS_PER_ATTEMPT,
    EVENTS_PER_WINDOW,
    FLEET_POLLS_PER_SECOND,
    HISTORY_EVENTS,
    MAX_WINDOWS,
    RAMP_TURNS,
    TURNS_PER_WINDOW,
    fewest_max_poll_seconds,
    fleet_poll_seconds,
    iso,
    watch_windows,
    windows_per_attempt,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def spans(windows: list[dict]) -> list[tuple[int, float]]:
    """(seconds, window length in seconds) of each window."""
    result, begin = [], START
    for window in windows:
        end = parse_iso_utc(window["until"])
        result.append((window["seconds"], (end - begin).total_seconds()))
        begin = end
    return result


def test_intervals_double_up_to_the_ceiling_and_halve_towards_the_deadline() -> None:
    windows = watch_windows(START, START + timedelta(days=1), poll=30, max_poll=300)
    seconds = [w["seconds"] for w in windows[:-1]]  # the last: the guard's window
    assert seconds[:5] == [30, 60, 120, 240, 300]
    assert seconds[-4:] == [150, 75, 37, 30]


def test_near_the_deadline_each_window_waits_at_most_half_the_time_left() -> None:
    deadline = START + timedelta(days=30)
    begin = START
    windows = watch_windows(START, deadline, poll=30, max_poll=3600)[:-1]
    assert len(windows) > 5
    for window in windows:
        left = (deadline - begin).total_seconds()
        assert window["seconds"] <= max(30, left // 2)
        begin = parse_iso_utc(window["until"])


def test_ramp_windows_hold_their_turns() -> None:
    ramp = spans(watch_windows(START, START + timedelta(days=1), poll=30, max_poll=300))[:4]
    assert ramp == [(30, 30 * RAMP_TURNS), (60, 60 * RAMP_TURNS), (120, 120 * RAMP_TURNS), (240, 240 * RAMP_TURNS)]


def test_no_window_holds_more_than_its_turns() -> None:
    found = spans(watch_windows(START, START + timedelta(days=365), poll=30, max_poll=300))
    assert len(found) > 10
    for seconds, length in found:
        assert length / seconds <= TURNS_PER_WINDOW


def test_windows_reach_the_deadline_then_watch_the_guard_at_the_fastest_interval() -> None:
    deadline = START + timedelta(hours=2)
    windows = watch_windows(START, deadline, poll=30, max_poll=300)
    assert windows[-2]["until"] == iso(deadline)
    guard_end = iso(deadline + timedelta(hours=1))
    assert windows[-1] == {"seconds": 30, "until": guard_end, "deadlineWaitFrom": guard_end}


def test_a_year_fits_in_the_parent_history() -> None:
    windows = watch_windows(START, START + timedelta(days=365), poll=30, max_poll=300)
    assert len(windows) < 100
    fewest = fewest_max_poll_seconds(365 * 86400)
    assert len(watch_windows(START, START + timedelta(days=365), poll=1, max_poll=fewest)) <= MAX_WINDOWS


@pytest.mark.parametrize("attempts", [1, 2, 6])
def test_every_attempts_windows_fit_in_one_parent_history(attempts: int) -> None:
    """The windows of all attempts share the parent's 25,000 events; each attempt's timeout is its own."""
    timeout = (365 * 86400) // attempts - 2 * 3600
    fewest = fewest_max_poll_seconds(timeout, attempts)
    windows = watch_windows(START, START + timedelta(seconds=timeout), poll=1, max_poll=fewest)
    assert attempts * (len(windows) * EVENTS_PER_WINDOW + EVENTS_PER_ATTEMPT) <= HISTORY_EVENTS
    assert len(windows) > windows_per_attempt(attempts) // 2  # the budget is used, not wasted


def test_a_short_run_is_a_window_the_last_window_and_the_guard() -> None:
    windows = watch_windows(START, START + timedelta(seconds=3), poll=1, max_poll=1)
    guard_end, deadline = iso(START + timedelta(seconds=3 + TURNS_PER_WINDOW)), START + timedelta(seconds=3)
    assert windows == [
        {"seconds": 1, "until": iso(START + timedelta(seconds=2)), "deadlineWaitFrom": iso(deadline)},
        {"seconds": 1, "until": iso(deadline), "deadlineWaitFrom": iso(deadline - timedelta(seconds=1))},
        {"seconds": 1, "until": guard_end, "deadlineWaitFrom": guard_end},
    ]


def test_no_wait_passes_the_deadline() -> None:
    for length in (7 * 60 + 10, 3600, 86400 + 17):
        deadline = START + timedelta(seconds=length)
        *before, last, _guard = watch_windows(START, deadline, poll=30, max_poll=3600)
        assert before, length
        for window in before:  # a wait begun before the window ends, ends by the deadline
            assert parse_iso_utc(window["until"]) + timedelta(seconds=window["seconds"]) <= deadline
            assert window["deadlineWaitFrom"] == iso(deadline)
        # the last: waits for the deadline itself once within one interval (at most pollSeconds) of it
        assert last["until"] == iso(deadline) and last["seconds"] <= 30
        assert last["deadlineWaitFrom"] == iso(deadline - timedelta(seconds=last["seconds"]))


def test_the_backstop_waits_out_the_guards_retries_and_the_reaper_waits_out_the_backstop() -> None:
    """The backstop must not race the guard (else a guarded run ends NO_RESULT), and the reaper acts last."""
    import json
    from pathlib import Path

    from launcher.watch_plan import BACKSTOP_GRACE_MINUTES, GUARD_WORST_CASE_SECONDS

    from longtask.template_file import load_template

    root = Path(__file__).resolve().parents[3]

    def retried_seconds(asl: str, state: str) -> float:
        (retry,) = json.loads((root / "statemachine" / asl).read_text())["States"][state]["Retry"]
        return sum(retry["IntervalSeconds"] * retry["BackoffRate"] ** n for n in range(retry["MaxAttempts"]))

    worst = retried_seconds("watcher.asl.json", "Describe Instance") + retried_seconds(
        "longtask.asl.json", "Terminate Instance"
    )
    assert worst < GUARD_WORST_CASE_SECONDS < BACKSTOP_GRACE_MINUTES * 60
    reaper = load_template(root / "template.yaml")["Resources"]["ReaperFunction"]["Properties"]
    assert int(reaper["Environment"]["Variables"]["DEADLINE_GRACE_SECONDS"]) >= BACKSTOP_GRACE_MINUTES * 60 + 300


@pytest.mark.parametrize(("running", "expected"), [(0, (30, 3600)), (300, (30, 3600)), (10_000, (1000, 3600)),
                                                   (100_000, (10_000, 10_000))])  # fmt: skip
def test_a_fleets_polls_keep_to_its_share_of_describe_instances(running: int, expected: tuple[int, int]) -> None:
    """The first interval stretches with the instances running: all of them polling at it stay within
    FLEET_POLLS_PER_SECOND, and no interval is shorter."""
    poll, max_poll = fleet_poll_seconds(30, 3600, running)
    assert (poll, max_poll) == expected
    assert running / poll <= FLEET_POLLS_PER_SECOND
