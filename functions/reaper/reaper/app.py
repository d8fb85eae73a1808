"""Reaper Lambda handler: on a schedule and when an execution ends ABORTED, TIMED_OUT or FAILED."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .sweep import settle_ended_execution, settle_orphaned_runs, sweep

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="LongTask")


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: a scheduled event, a Step Functions "Execution Status Change" event, or {} to sweep now."""
    clients = {name: boto3.client(name) for name in ("ec2", "stepfunctions", "dynamodb")}
    table, now = os.environ["RUNS_TABLE"], datetime.now(UTC)
    grace = timedelta(seconds=int(os.environ.get("DEADLINE_GRACE_SECONDS", "900")))
    status_change = event.get("detail-type") == "Step Functions Execution Status Change"
    settled = status_change and settle_ended_execution(clients["dynamodb"], table, event["detail"], now)
    reaped = sweep(clients, table, os.environ["STACK_NAME"], now, grace)
    orphans = settle_orphaned_runs(clients, table, now)
    for action in reaped:
        logger.warning("reaped an instance", extra=action)
    metrics.add_metric(name="InstancesReaped", unit=MetricUnit.Count, value=len(reaped))
    return {"reaped": reaped, "settledRun": bool(settled), "settledOrphans": orphans}
