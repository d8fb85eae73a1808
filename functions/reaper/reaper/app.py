"""Reaper Lambda handler: every few minutes, when an execution ends, and when `longtask abort` asks."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.clients import client
from common.queues import Queues
from common.record import DEFAULT_RETENTION_DAYS

from .sweep import (
    EC2_STATE_CHANGE,
    Executions,
    reap_execution,
    reap_late_launch,
    reclaim_slots,
    settle_orphaned_runs,
    sweep,
)

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="LongTask")


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: a Step Functions "Execution Status Change" event or {"executionArn": ...} (reap that execution), an
    EC2 state change to running (reap the instance if its run is over), or a scheduled event or {} (sweep the
    whole stack)."""
    clients = {name: client(name) for name in ("ec2", "stepfunctions", "dynamodb", "events")}
    table, stack, now = os.environ["RUNS_TABLE"], os.environ["STACK_NAME"], datetime.now(UTC)
    queues = Queues(clients["dynamodb"], os.environ["QUEUES_TABLE"], clients["stepfunctions"])
    retention = int(os.environ.get("RUN_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    detail = event.get("detail") or {}
    if event.get("detail-type") == EC2_STATE_CHANGE:
        reaped = reap_late_launch(clients, queues, table, stack, detail.get("instance-id", ""), now, retention)
        metrics.add_metric(name="InstancesReaped", unit=MetricUnit.Count, value=len(reaped["terminated"]))
        return reaped
    execution_arn = event.get("executionArn") or detail.get("executionArn")
    if execution_arn:
        reaped = reap_execution(clients, queues, table, stack, execution_arn, now, retention)
        metrics.add_metric(name="InstancesReaped", unit=MetricUnit.Count, value=len(reaped["terminated"]))
        return reaped
    grace = timedelta(seconds=int(os.environ.get("DEADLINE_GRACE_SECONDS", "900")))
    executions = Executions(clients["stepfunctions"], os.environ["STATE_MACHINE_ARN"])
    swept = sweep(clients, executions, table, stack, now, grace, retention)
    for action in swept:
        logger.warning("reaped an instance", extra=action)
    metrics.add_metric(name="InstancesReaped", unit=MetricUnit.Count, value=len(swept))
    return {"reaped": swept, "settledOrphans": settle_orphaned_runs(clients, executions, table, now, retention),
            "reclaimedSlots": reclaim_slots(executions, queues)}
