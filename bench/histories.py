"""Execution histories as Step Functions bills and limits them: events and state transitions."""

from __future__ import annotations

from typing import Any

ENTERED = "StateEntered"


def history(stepfunctions: Any, execution_arn: str) -> list[dict[str, Any]]:
    pages = stepfunctions.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def transitions(events: list[dict[str, Any]]) -> int:
    """State transitions (what AWS bills): one per state entered."""
    return sum(1 for event in events if event["type"].endswith(ENTERED))


def polls(events: list[dict[str, Any]]) -> int:
    """DescribeInstances polls (the state of that name, in this design's watcher and in the naive loop)."""
    return sum(1 for e in events if (e.get("stateEnteredEventDetails") or {}).get("name") == "Describe Instance")


def last_exit(events: list[dict[str, Any]], state: str) -> Any:
    """When the state was last left."""
    exits = [e for e in events if (e.get("stateExitedEventDetails") or {}).get("name") == state]
    return exits[-1]["timestamp"]


def seconds_between(events: list[dict[str, Any]], first: str, then: str, name: str | None = None) -> float:
    """Seconds from the first event of type `first` to the next `then` (of state `name`, if given)."""
    start = next(e for e in events if e["type"] == first)["timestamp"]
    for event in events:
        details = event.get("stateExitedEventDetails") or event.get("stateEnteredEventDetails") or {}
        if event["type"] == then and event["timestamp"] >= start and (name is None or details.get("name") == name):
            return (event["timestamp"] - start).total_seconds()
    raise LookupError(f"no {then} after {first}")
