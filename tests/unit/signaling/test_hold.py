"""A hold report: a running run becomes HOLDING until holdUntil, announced with its record (never the watcher's
token); a run that has ended is left as it is."""

from __future__ import annotations

import json
from typing import Any

from signaling.hold import record_hold

from .conftest import TABLE
from .test_stall import Events, put_run


def test_a_running_run_is_marked_holding_and_announced(dynamodb: Any) -> None:
    put_run(dynamodb, "RUNNING")
    events = Events()
    record = record_hold(dynamodb, events, TABLE, "run-1", "2026-12-07T06:00:00Z")
    assert record is not None and (record["status"], record["holdUntil"]) == ("HOLDING", "2026-12-07T06:00:00Z")
    (entry,) = events.entries
    assert entry["DetailType"] == "LongTask Run State Change" and "AQB-secret-token" not in entry["Detail"]
    assert json.loads(entry["Detail"])["status"] == "HOLDING"


def test_a_hold_reported_after_the_runs_end_changes_nothing(dynamodb: Any) -> None:
    put_run(dynamodb, "FAILED")
    events = Events()
    assert record_hold(dynamodb, events, TABLE, "run-1", "2026-12-07T06:00:00Z") is None
    assert events.entries == []
