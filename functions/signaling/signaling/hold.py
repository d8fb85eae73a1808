"""A hold an instance reported (runs/<run id>/hold.json: its script failed and it stays up for inspection until
holdUntil): mark the run HOLDING and announce it, a "LongTask Run State Change" event with the record.

As for stalls, the instance only uploads; the stack's function writes and announces. The run stays live: its
watcher waits on, `longtask release` ends the hold, and the workflow records the script's failure at the end.
"""

from __future__ import annotations

import json
from typing import Any

from common.events import state_change
from common.statuses import HOLDING

from .marking import mark_running


def read_hold(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def record_hold(dynamodb: Any, events: Any, table: str, run_id: str, hold_until: str) -> dict[str, Any] | None:
    """Mark the running run HOLDING until hold_until and put its event; None when it is not running."""
    record = mark_running(dynamodb, table, run_id, "SET #status = :holding, holdUntil = :until",
                          {":holding": {"S": HOLDING}, ":until": {"S": hold_until}})  # fmt: skip
    if record is not None:
        events.put_events(Entries=[state_change(record)])
    return record
