"""A run's record as its Step Functions execution tells it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .queues import DEFAULT_PRIORITY, DEFAULT_QUEUE
from .record import WATCH_ATTRIBUTES
from .statuses import ERROR_PREFIX
from .timestamps import iso_utc


def carried_record(execution: dict[str, Any]) -> dict[str, Any] | None:
    """The record an ended execution carries (DescribeExecution): its output when it SUCCEEDED, its cause when
    it FAILED with a LongTask.* error; None otherwise (running, stopped, timed out, or failed in the engine)."""
    text = None
    if execution["status"] == "SUCCEEDED":
        text = execution.get("output")
    elif execution["status"] == "FAILED" and (execution.get("error") or "").startswith(ERROR_PREFIX):
        text = execution.get("cause")
    try:
        record = json.loads(text or "")
    except ValueError:
        return None
    return record if isinstance(record, dict) and "status" in record else None


def settled_record(execution: dict[str, Any], item: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The final record of a run whose execution has ended: the one it carries, else what the table knew with
    the execution's own status, why, and when it stopped. The watcher's wait (a task token) stays out of it."""
    known = item or {"runId": execution["name"], "executionArn": execution["executionArn"]}
    record = {name: value for name, value in known.items() if name not in WATCH_ATTRIBUTES}
    carried = carried_record(execution)
    if carried is not None:
        record.update(carried)
    else:
        status = execution["status"]
        why = ": ".join(p for p in (execution.get("error"), execution.get("cause")) if p)
        record.update({"status": status, "reason": f"its execution ended {status}" + (f" ({why})" if why else "")})
    started = execution.get("startDate")
    if not record.get("startedAt") and isinstance(started, datetime):
        record["startedAt"] = iso_utc(started)
    if not record.get("queue"):  # ended before any record: its queue as its input named it
        record.update(_queue_of(execution))
    if not record.get("finishedAt"):
        stopped = execution.get("stopDate")
        record["finishedAt"] = iso_utc(stopped if isinstance(stopped, datetime) else now)
    return record


def _queue_of(execution: dict[str, Any]) -> dict[str, Any]:
    """The queue and priority the execution's input asked for (the defaults when it named none or is not JSON)."""
    try:
        run_input = json.loads(execution.get("input") or "{}")
    except ValueError:
        run_input = {}
    run_input = run_input if isinstance(run_input, dict) else {}
    return {"queue": run_input.get("queue", DEFAULT_QUEUE), "priority": run_input.get("priority", DEFAULT_PRIORITY)}
