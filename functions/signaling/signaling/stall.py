"""A stall an instance reported (runs/<run id>/diagnostics/<time>/stall.json, uploaded after its diagnostics):
record it on the run's item and announce it with the record, a "LongTask Run Stalled" event.

The instance only uploads; the stack's function writes and announces, so the instance role needs no
events:PutEvents (a user's script could otherwise put run events of its own making). Only a RUNNING run is
marked: a report that arrives after the run's end changes nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from common.events import BUS, SOURCE
from common.keys import s3_uri
from common.record import FIELDS, from_item
from common.statuses import RUNNING
from common.timestamps import iso_utc

DETAIL_TYPE = "LongTask Run Stalled"


def stalled_at(folder: str, reported: str) -> str:
    """When the instance saw the stall: its diagnostics folder's name (diagnostics/20261207T050102Z/), else when
    the report arrived."""
    try:
        return iso_utc(datetime.strptime(folder.rstrip("/").rsplit("/", 1)[-1], "%Y%m%dT%H%M%S%z"))
    except ValueError:
        return reported


def record_stall(dynamodb: Any, events: Any, table: str, run_id: str, bucket: str, folder: str,
                 reported: str) -> dict[str, Any] | None:  # fmt: skip
    """Mark the run stalled (stalledAt, diagnosticsUri) and put its event; None when the run is not running."""
    values = {":at": {"S": stalled_at(folder, reported)}, ":uri": {"S": s3_uri(bucket, folder)},
              ":running": {"S": RUNNING}}  # fmt: skip
    try:
        item = dynamodb.update_item(
            TableName=table, Key={"runId": {"S": run_id}},
            UpdateExpression="SET stalledAt = :at, diagnosticsUri = :uri",
            ConditionExpression="#status = :running",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
        )["Attributes"]  # fmt: skip
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    stored = from_item(item)
    record = {name: stored.get(name) for name in FIELDS}  # the record's fields only: never the watcher's token
    events.put_events(Entries=[{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(record),
                                "EventBusName": BUS}])  # fmt: skip
    return record
