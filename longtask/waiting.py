"""Waiting for a condition, the one way every part of the CLI and the local engine waits."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator


def poll_condition(condition: Callable[[], bool], timeout: float | None = None, interval: float = 0.2) -> bool:
    """Check condition() every interval seconds until it is true (return True) or timeout seconds have passed
    (return False); None waits as long as it takes. Named and shaped like LocalStack's own."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not condition():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def growing_intervals(first: float = 0.2, most: float = 1.0) -> Iterator[float]:
    """first, doubled each time up to most, then most for ever: a poll that sees a quick change at once and asks
    gently about a slow one."""
    interval = first
    while True:
        yield interval
        interval = min(interval * 2, most)
