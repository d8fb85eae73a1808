"""What the workflow does with a run's final record: write it, end the execution with it, or relaunch."""

from __future__ import annotations

import json
import os
from typing import Any

from common.record import DEFAULT_RETENTION_DAYS, to_item
from common.statuses import ERROR_NAMES


def finish(record: dict[str, Any], relaunch: dict[str, int] | None = None, error: str | None = None
           ) -> dict[str, Any]:  # fmt: skip
    """What the workflow needs: the record, its Runs item, the Fail error name (None on success; `error` when the
    instance named one, else the status's), and whether to launch a fresh instance ({"attempt": n}) instead of
    finishing."""
    retention = int(os.environ.get("RUN_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    return {"record": record, "item": to_item(record, retention),
            "error": error or ERROR_NAMES.get(record["status"]), "relaunch": relaunch}  # fmt: skip


def lambda_error_message(error: dict[str, Any]) -> str:
    """The message of a caught Step Functions error whose cause may be a Lambda error document."""
    cause = error.get("Cause", "")
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause or error.get("Error", "unknown error")
    return parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
