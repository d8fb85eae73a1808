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

from common.events import BUS, SOURCE
from common.keys import s3_uri
from common.timestamps import iso_utc

from .marking import mark_running

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
    record = mark_running(dynamodb, table, run_id, "SET stalledAt = :at, diagnosticsUri = :uri",
                          {":at": {"S": stalled_at(folder, reported)}, ":uri": {"S": s3_uri(bucket, folder)}})
    if record is not None:
        events.put_events(Entries=[{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(record),
                                    "EventBusName": BUS}])  # fmt: skip
    return record
