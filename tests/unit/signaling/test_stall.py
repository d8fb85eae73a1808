"""A stall report: recorded on a running run's item and announced with its record (never the watcher's token);
ignored for a run that has ended; its key told apart from every other key of a run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from common.keys import stall_of_key
from signaling.stall import DETAIL_TYPE, record_stall

from .conftest import TABLE

BUCKET = "artifacts"
FOLDER = "runs/run-1/diagnostics/20261207T050102Z/"


class Events:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}


def put_run(dynamodb: Any, status: str) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"runId": {"S": "run-1"}, "status": {"S": status},
                                             "waitToken": {"S": "AQB-secret-token"}})  # fmt: skip


def test_a_running_runs_stall_is_recorded_and_announced_with_its_record(dynamodb: Any) -> None:
    put_run(dynamodb, "RUNNING")
    events = Events()
    record = record_stall(dynamodb, events, TABLE, "run-1", BUCKET, FOLDER, "2026-12-07T05:01:09Z")
    assert record is not None
    assert (record["stalledAt"], record["diagnosticsUri"]) == ("2026-12-07T05:01:02Z", f"s3://{BUCKET}/{FOLDER}")
    (entry,) = events.entries
    assert entry["DetailType"] == DETAIL_TYPE == "LongTask Run Stalled"
    assert json.loads(entry["Detail"])["stalledAt"] == "2026-12-07T05:01:02Z"
    assert "AQB-secret-token" not in entry["Detail"]
    item = dynamodb.get_item(TableName=TABLE, Key={"runId": {"S": "run-1"}})["Item"]
    assert item["stalledAt"]["S"] == "2026-12-07T05:01:02Z" and item["waitToken"]["S"] == "AQB-secret-token"


def test_a_stall_reported_after_the_runs_end_changes_nothing(dynamodb: Any) -> None:
    put_run(dynamodb, "SUCCEEDED")
    events = Events()
    assert record_stall(dynamodb, events, TABLE, "run-1", BUCKET, FOLDER, "2026-12-07T05:01:09Z") is None
    assert events.entries == []
    assert "stalledAt" not in dynamodb.get_item(TableName=TABLE, Key={"runId": {"S": "run-1"}})["Item"]


@pytest.mark.parametrize(("key", "expected"), [
    (FOLDER + "stall.json", ("run-1", FOLDER)),
    (FOLDER + "processes.txt", None),
    ("runs/run-1/result.json", None),
    ("runs/run-1/artifacts/diagnostics/x/stall.json", None),
    ("runs//diagnostics/x/stall.json", None),
])  # fmt: skip
def test_only_a_stall_report_key_is_one(key: str, expected: tuple[str, str] | None) -> None:
    assert stall_of_key(key) == expected
