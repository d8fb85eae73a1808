"""The watch plan: windows of polling, each watched by one child execution of the watcher workflow.

Completion events end a wait at once (functions/signaling/); the polls are the safety net for an event lost. Within
a window the watcher polls at a fixed interval; the interval doubles from one window to the next (from
pollSeconds up to maxPollSeconds), so a long run costs few polls. A window never holds more than TURNS_PER_WINDOW
polls, which keeps each child's history far below Step Functions' 25,000 events (13 events a poll), and the
parent spends about 12 events a window. After the deadline one more window, at the fastest interval, watches
the timeout guard's terminate go through.

No wait passes the deadline. Near it the interval ramps down again, to at most half the time left, so that a run
ending close to its deadline is still seen at once: every window but the last ends at least one interval before
the deadline, and in the last (at pollSeconds) the watcher waits for the deadline itself from `deadlineWaitFrom`,
within one interval of it. The instance's
own backstop (`shutdown -h +N`) fires BACKSTOP_GRACE_MINUTES after the deadline: more than the guard's worst
case (the deadline poll and the terminate, each with all their retries), so a guarded run ends TIMED_OUT.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from common.timestamps import iso_utc as iso

RAMP_TURNS = 5  # polls at each interval below the ceiling (events carry the latency; polls are the net)
TURNS_PER_WINDOW = 1500  # 1,500 polls x 13 events = 19,500 history events per child execution (at most 22,500
# should every poll find the instance shutting-down: 15 events each, its state reason looked at)
GUARD_WINDOW_SECONDS = 3600  # how long to watch a terminate after the deadline
MAX_WINDOWS = 1000  # an attempt's windows, at most
# The parent's history holds every attempt's windows: at most 25,000 events an execution
# (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html), about 12 a window, and an attempt's
# launch, announcements, outcome and relaunch besides (EVENTS_PER_ATTEMPT, with room for their retries)
HISTORY_EVENTS = 25_000
EVENTS_PER_WINDOW = 12
EVENTS_PER_ATTEMPT = 100
# The guard's worst case after the deadline: Describe Instance and Terminate Instance each retried 8 times with
# 2 s doubling (2 + 4 + ... + 256 = 510 s, statemachine/*.asl.json), plus a minute for the child to be noticed.
GUARD_WORST_CASE_SECONDS = 2 * 510 + 60
BACKSTOP_GRACE_MINUTES = -(-GUARD_WORST_CASE_SECONDS // 60) + 2  # 20: the backstop never races the guard


# Every run's safety-net polls draw on one bucket, DescribeInstances' (100, refilled at 20 a second:
# https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html), beside the launches, outcomes and sweeps.
# A fleet's polls keep to half of it: the more instances run, the longer a run's first interval (docs/scale.md).
FLEET_POLLS_PER_SECOND = 10


def fleet_poll_seconds(poll: int, max_poll: int, running: int) -> tuple[int, int]:
    """(pollSeconds, maxPollSeconds) for a run launched beside `running` others: no shorter than the fleet's share
    of the polls allows. Completion events still end a wait at once; only the net is slower."""
    floor = -(-running // FLEET_POLLS_PER_SECOND)
    poll = max(poll, floor)
    return poll, max(max_poll, poll)


def watch_windows(start: datetime, deadline: datetime, poll: int, max_poll: int) -> list[dict[str, int | str]]:
    """[{"seconds": interval, "until": end, "deadlineWaitFrom": moment}, ...] from start to a little after the
    deadline (RFC 3339 moments)."""
    windows: list[dict[str, int | str]] = []
    moment, seconds = start, poll
    while moment < deadline:
        left = int((deadline - moment).total_seconds())
        interval = max(1, min(seconds, max(poll, left // 2), left))  # near the deadline: half the time left
        if left <= 2 * max(poll, 1):  # the last: waits for the deadline itself once within one interval of it
            windows.append({"seconds": interval, "until": iso(deadline),
                            "deadlineWaitFrom": iso(deadline - timedelta(seconds=interval))})  # fmt: skip
            break
        turns = RAMP_TURNS if seconds < max_poll else TURNS_PER_WINDOW
        moment += timedelta(seconds=min(turns * interval, left - interval))  # any wait begun in it ends in time
        windows.append({"seconds": interval, "until": iso(moment), "deadlineWaitFrom": iso(deadline)})
        seconds = min(seconds * 2, max_poll)
    guard_end = deadline + timedelta(seconds=min(GUARD_WINDOW_SECONDS, TURNS_PER_WINDOW * poll))
    windows.append({"seconds": poll, "until": iso(guard_end), "deadlineWaitFrom": iso(guard_end)})
    return windows


def windows_per_attempt(attempts: int) -> int:
    """How many windows each of a run's attempts may have, so that all of them fit in the parent's history."""
    return min(MAX_WINDOWS, (HISTORY_EVENTS - attempts * EVENTS_PER_ATTEMPT) // (attempts * EVENTS_PER_WINDOW))


def fewest_max_poll_seconds(timeout_seconds: int, attempts: int = 1) -> int:
    """The smallest maxPollSeconds that keeps each of a run's attempts of this length within its windows."""
    return -(-timeout_seconds // ((windows_per_attempt(attempts) - 30) * TURNS_PER_WINDOW))  # 30: the ramps
