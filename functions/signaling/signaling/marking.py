"""Mark a running run on its Runs item (a stall, a hold) and give back its record, for the event that announces it."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from common.record import FIELDS, from_item
from common.statuses import RUNNING


def mark_running(dynamodb: Any, table: str, run_id: str, update: str, values: dict[str, Any],
                 names: dict[str, str] | None = None) -> dict[str, Any] | None:  # fmt: skip
    """Apply `update` to the run's item if it is RUNNING; its record (the record's fields only: never the watcher's
    task token), or None when the run is not running (a report that came after its end changes nothing)."""
    try:
        item = dynamodb.update_item(
            TableName=table, Key={"runId": {"S": run_id}}, UpdateExpression=update,
            ConditionExpression="#status = :running", ExpressionAttributeNames={"#status": "status", **(names or {})},
            ExpressionAttributeValues={**values, ":running": {"S": RUNNING}}, ReturnValues="ALL_NEW",
        )["Attributes"]  # fmt: skip
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    stored = from_item(item)
    return {name: stored.get(name) for name in FIELDS}
