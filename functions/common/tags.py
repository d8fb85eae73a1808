"""The tags the launcher puts on a run's instance; the reaper and the client find instances by them."""

from __future__ import annotations

STACK = "longtask:stack"
RUN_ID = "longtask:run-id"
EXECUTION_ARN = "longtask:execution-arn"
DEADLINE = "longtask:deadline"
