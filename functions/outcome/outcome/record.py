"""The run record: the execution's output, its Fail cause, and the Runs table item."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeSerializer

ERROR_NAMES = {
    "FAILED": "LongTask.ScriptFailed",
    "TIMED_OUT": "LongTask.TimedOut",
    "LAUNCH_FAILED": "LongTask.LaunchFailed",
    "INVALID_INPUT": "LongTask.InvalidInput",
    "NO_RESULT": "LongTask.NoResult",
}
LAUNCH_FIELDS = (
    "executionArn", "instanceId", "instanceType", "subnetId", "spot", "attempt", "launchAttempts",
    "launchedAt", "deadline", "logUri", "resultUri", "artifactsUri",
)  # fmt: skip


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_record(run_id: str, status: str, reason: str, launch: dict[str, Any] | None = None, **facts: Any) -> dict:
    """A complete run record; fields that do not apply are null."""
    record: dict[str, Any] = {"runId": run_id, "status": status, "exitCode": None, "reason": reason}
    record.update({name: (launch or {}).get(name) for name in LAUNCH_FIELDS})
    record.update({"finishedAt": now_iso(), "logTail": None})
    record.update(facts)
    return record


def finish(record: dict[str, Any], relaunch: dict[str, int] | None = None) -> dict[str, Any]:
    """What the workflow needs: the record, its DynamoDB item, the Fail error name (None on success),
    and whether to launch a fresh instance ({"attempt": n}) instead of finishing."""
    serialize = TypeSerializer().serialize
    item = {name: serialize(value) for name, value in record.items() if value is not None and value != []}
    if record["status"] != "RUNNING":  # DynamoDB's TTL removes a finished run's item with its logs
        retention = timedelta(days=int(os.environ.get("RUN_RETENTION_DAYS", "90")))
        item["expiresAt"] = {"N": str(int((datetime.now(UTC) + retention).timestamp()))}
    return {"record": record, "item": item, "error": ERROR_NAMES.get(record["status"]), "relaunch": relaunch}


def lambda_error_message(error: dict[str, Any]) -> str:
    """The message of a caught Step Functions error whose cause may be a Lambda error document."""
    cause = error.get("Cause", "")
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause or error.get("Error", "unknown error")
    return parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
