"""Long runs: polls back off across watcher windows, and each poll costs a fixed, small number of events.

A compressed clock (1 s polls doubling to 4 s) drives many poll turns quickly; the histories of the
parent and of each child execution are counted as Step Functions bills and limits them.
"""

from __future__ import annotations

from longtask.client import LongTaskClient

from .support import executions, stack_output

EVENTS_PER_POLL = 13  # Wait For Instance, a task-token wait (6) + Describe Instance (5) + Choice (2)
EVENTS_PER_SIGNAL = 4  # a signal recorded before a wait: the wait fails at once (5, not 6) + Consume Signal (5)
EVENTS_PER_REASON_LOOK = 2  # a poll that finds the instance shutting-down looks at its state reason (a Choice)
CHILD_OVERHEAD = 4  # ExecutionStarted, the ending Pass (2), ExecutionSucceeded


def history(client: LongTaskClient, execution_arn: str) -> list[dict]:
    paginator = client.stepfunctions.get_paginator("get_execution_history")
    return [event for page in paginator.paginate(executionArn=execution_arn) for event in page["events"]]


def test_polls_back_off_and_each_costs_thirteen_events(client: LongTaskClient) -> None:
    run_id = client.start({"script": "sleep 16\necho done\n", "pollSeconds": 1, "maxPollSeconds": 4})
    record = client.wait(run_id)
    assert record["status"] == "SUCCEEDED"

    watcher = stack_output(client, "WatcherStateMachineArn")
    children = sorted(
        (e for e in executions(client, watcher) if e["name"].startswith(f"{run_id}-a0-w")),
        key=lambda e: int(e["name"].rsplit("-w", 1)[1].split("-r")[0]),  # <run>-a0-w<window>-r<retry>
    )  # fmt: skip
    assert len(children) >= 2  # 5 polls at 1 s, then 2 s, ...
    intervals = []
    for child in children:
        events = history(client, child["executionArn"])
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        # At most, not exactly: a wait whose TimeoutSeconds passes before its UpdateItem returns (a busy machine,
        # 1 s polls) times out without a TaskSubmitted event, as on AWS, where the timeout covers the whole task.
        polls, signals = entered.count("Describe Instance"), entered.count("Consume Signal")
        reasons = entered.count("Did It Shut Itself Down?")
        most = EVENTS_PER_POLL * polls + EVENTS_PER_SIGNAL * signals + EVENTS_PER_REASON_LOOK * reasons + CHILD_OVERHEAD
        assert len(events) <= most, events
        started = next(e for e in events if e["type"] == "ExecutionStarted")
        intervals.append(started["executionStartedEventDetails"]["input"])
    assert '"seconds":1' in intervals[0].replace(" ", "") and '"seconds":2' in intervals[1].replace(" ", "")

    parent_events = len(history(client, client.execution_arn(run_id)))
    per_window = 12  # Watch Instance (6) + What Did The Watch See? (2) + Next Window (2) + Any Window Left? (2)
    fixed = 50  # start, launch, the two Record and two Announce states, outcome, end (about 40)
    assert parent_events <= fixed + per_window * len(children)
