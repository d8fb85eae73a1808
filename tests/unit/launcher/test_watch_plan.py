"""The watch plan: poll intervals back off, every window stays within its history budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from launcher.watch_plan import (
    MAX_WINDOWS,
    RAMP_TURNS,
    TURNS_PER_WINDOW,
    fewest_max_poll_seconds,
    iso,
    watch_windows,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def spans(windows: list[dict]) -> list[tuple[int, float]]:
    """(seconds, window length in seconds) of each window."""
    result, begin = [], START
    for window in windows:
        end = datetime.strptime(window["until"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        result.append((window["seconds"], (end - begin).total_seconds()))
        begin = end
    return result


def test_intervals_double_up_to_the_ceiling() -> None:
    windows = watch_windows(START, START + timedelta(days=1), poll=30, max_poll=300)
    seconds = [w["seconds"] for w in windows]
    assert seconds[:5] == [30, 60, 120, 240, 300]
    assert set(seconds[4:-1]) == {300}


def test_ramp_windows_hold_ten_polls() -> None:
    ramp = spans(watch_windows(START, START + timedelta(days=1), poll=30, max_poll=300))[:4]
    assert ramp == [(30, 30 * RAMP_TURNS), (60, 60 * RAMP_TURNS), (120, 120 * RAMP_TURNS), (240, 240 * RAMP_TURNS)]


def test_no_window_holds_more_than_its_turns() -> None:
    for seconds, length in spans(watch_windows(START, START + timedelta(days=365), poll=30, max_poll=300)):
        assert length / seconds <= TURNS_PER_WINDOW


def test_windows_reach_the_deadline_then_watch_the_guard_at_the_fastest_interval() -> None:
    deadline = START + timedelta(hours=2)
    windows = watch_windows(START, deadline, poll=30, max_poll=300)
    assert windows[-2]["until"] == iso(deadline)
    assert windows[-1] == {"seconds": 30, "until": iso(deadline + timedelta(hours=1))}


def test_a_year_fits_in_the_parent_history() -> None:
    windows = watch_windows(START, START + timedelta(days=365), poll=30, max_poll=300)
    assert len(windows) < 100
    assert fewest_max_poll_seconds(365 * 86400) == 17
    assert len(watch_windows(START, START + timedelta(days=365), poll=1, max_poll=17)) <= MAX_WINDOWS


def test_a_short_run_is_one_window_and_the_guard() -> None:
    windows = watch_windows(START, START + timedelta(seconds=3), poll=1, max_poll=1)
    assert windows == [
        {"seconds": 1, "until": iso(START + timedelta(seconds=3))},
        {"seconds": 1, "until": iso(START + timedelta(seconds=3 + 2000))},
    ]
