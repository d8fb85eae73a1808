"""The watch plan: windows of polling, each watched by one child execution of the watcher workflow.

Within a window the watcher polls at a fixed interval; the interval doubles from one window to the
next (from pollSeconds up to maxPollSeconds), so a long run costs few polls. A window never holds more
than TURNS_PER_WINDOW polls, which keeps each child's history far below Step Functions' 25,000 events
(9 events a poll), and the parent spends about 12 events a window. After the deadline one more
window, at the fastest interval, watches the timeout guard's terminate go through.
"""

from __future__ import annotations

from datetime import datetime, timedelta

RAMP_TURNS = 10  # polls at each interval below the ceiling
TURNS_PER_WINDOW = 2000  # 2,000 polls x 9 events = 18,000 history events per child execution
GUARD_WINDOW_SECONDS = 3600  # how long to watch a terminate after the deadline
MAX_WINDOWS = 1000  # the parent's history: about 12 events a window


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def watch_windows(start: datetime, deadline: datetime, poll: int, max_poll: int) -> list[dict[str, int | str]]:
    """[{"seconds": interval, "until": RFC 3339 end}, ...] from start to a little after the deadline."""
    windows: list[dict[str, int | str]] = []
    moment, seconds = start, poll
    while moment < deadline:
        turns = RAMP_TURNS if seconds < max_poll else TURNS_PER_WINDOW
        moment = min(moment + timedelta(seconds=turns * seconds), deadline)
        windows.append({"seconds": seconds, "until": iso(moment)})
        seconds = min(seconds * 2, max_poll)
    guard_end = deadline + timedelta(seconds=min(GUARD_WINDOW_SECONDS, TURNS_PER_WINDOW * poll))
    windows.append({"seconds": poll, "until": iso(guard_end)})
    return windows


def fewest_max_poll_seconds(timeout_seconds: int) -> int:
    """The smallest maxPollSeconds that keeps a run of this length within MAX_WINDOWS windows."""
    return -(-timeout_seconds // ((MAX_WINDOWS - 20) * TURNS_PER_WINDOW))
