"""The run record: one shape for the Runs table item, the execution's output and its Fail cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from .statuses import ACTIVE, FINAL
from .timestamps import iso_utc, parse_iso_utc

# every field of a record, in the order people read them; those that do not apply are null
FIELDS = (
    "runId", "status", "exitCode", "reason", "queue", "priority", "startedAt", "queuedAt", "waitReason", "executionArn",
    "instanceId", "instanceType", "subnetId", "spot", "publicIp",
    "attempt", "attempts", "launchAttempts", "launchedAt", "deadline", "finishedAt", "instanceSeconds", "costUsd",
    "maxCostUsd", "logUri", "liveLogUri",
    "resultUri", "artifactsUri", "logTail", "stalledAt", "diagnosticsUri", "holdUntil",
)  # fmt: skip
# what the launch decides, carried from the launcher into every later record of the run
LAUNCH_FIELDS = (
    "queue", "priority", "startedAt", "executionArn", "instanceId", "instanceType", "subnetId", "spot", "attempt",
    "launchAttempts", "launchedAt", "deadline", "maxCostUsd", "logUri", "liveLogUri", "resultUri", "artifactsUri",
)  # fmt: skip
DEFAULT_RETENTION_DAYS = 90
LISTED_AT = "listedAt"  # an item's place in the ByStatusAndTime index (template.yaml), never part of a record
STATUS_TIME_INDEX = "ByStatusAndTime"
# the watcher's wait on the Runs item (signaling/wake.py): a task token and a pending signal, never part of a record
WAIT_TOKEN = "waitToken"
SIGNALED_AT = "signaledAt"
WATCH_ATTRIBUTES = (WAIT_TOKEN, SIGNALED_AT)


def build_record(run_id: str, status: str, reason: str | None, launch: dict[str, Any] | None = None, **facts: Any
                 ) -> dict[str, Any]:  # fmt: skip
    """A complete run record: the launch's fields, then the facts given; a final record has its finishedAt."""
    record: dict[str, Any] = dict.fromkeys(FIELDS)
    record.update({"runId": run_id, "status": status, "reason": reason})
    record.update({name: (launch or {}).get(name) for name in LAUNCH_FIELDS})
    record["publicIp"] = (launch or {}).get("elasticIp") or None  # the launch's publicIp says only whether it has one
    if status in FINAL:
        record["finishedAt"] = iso_utc()
    record.update(facts)
    return record


def to_item(record: dict[str, Any], retention_days: int = DEFAULT_RETENTION_DAYS) -> dict[str, Any]:
    """The record as a Runs table item; a finished run's item expires (DynamoDB TTL) retention_days after it
    finished, with its logs."""
    serialize = TypeSerializer().serialize
    item = {name: serialize(_decimal(value)) for name, value in record.items() if value is not None and value != []}
    if record["status"] not in ACTIVE:
        try:
            finished = parse_iso_utc(record.get("finishedAt") or "")
        except ValueError:
            finished = datetime.now(UTC)
        item["expiresAt"] = {"N": str(int((finished + timedelta(days=retention_days)).timestamp()))}
    listed = record.get("startedAt") or record.get("queuedAt") or record.get("launchedAt") or record.get("finishedAt")
    if listed:  # the ByStatusAndTime index's sort key: newest first within a status, ties by run id
        item[LISTED_AT] = {"S": f"{listed}#{record['runId']}"}
    return item


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A Runs table item as plain JSON values (whole numbers as int, others as float, in the attempts' maps too)."""
    deserialize = TypeDeserializer().deserialize
    return {name: _plain(deserialize(value)) for name, value in item.items() if name != LISTED_AT}


def _decimal(value: Any) -> Any:
    """Floats as DynamoDB takes them (Decimal), in lists and maps too."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, list):
        return [_decimal(element) for element in value]
    if isinstance(value, dict):
        return {name: _decimal(element) for name, element in value.items()}
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(element) for element in value]
    if isinstance(value, dict):
        return {name: _plain(element) for name, element in value.items()}
    return value
