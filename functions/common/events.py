"""The run state-change event: put on the default event bus at each change of a run's status, by the
workflow's Announce states and by the reaper, for users' own EventBridge rules (SNS, chat, e-mail)."""

from __future__ import annotations

import json
from typing import Any

SOURCE = "longtask"
DETAIL_TYPE = "LongTask Run State Change"
BUS = "default"


def state_change(record: dict[str, Any]) -> dict[str, Any]:
    """A PutEvents entry whose detail is the run record."""
    return {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(record), "EventBusName": BUS}
