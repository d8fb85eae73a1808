"""Signal Lambda handler: an instance's result.json arrived in S3, or the instance is shutting down or terminated
(wake its watcher); or an instance reported a stall or a hold (record and announce it)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.clients import client
from common.keys import HOLD, run_id_of_result_key, stall_of_key

from .hold import read_hold, record_hold
from .stall import record_stall
from .wake import wake

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="LongTask")
INSTANCE_INDEX = "ByInstance"  # the Runs table's index by instance id (template.yaml)


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: an S3 "Object Created" event (runs/<run id>/result.json, a hold's hold.json, or a stall's
    .../stall.json) or an "EC2 Instance State-change Notification"; a run that is not this stack's, or not
    running, is dropped."""
    dynamodb, table = client("dynamodb"), os.environ["RUNS_TABLE"]
    detail = event.get("detail") or {}
    if event.get("source") == "aws.s3":
        bucket, key = detail.get("bucket", {}).get("name", ""), detail.get("object", {}).get("key", "")
        if (stall := stall_of_key(key)) is not None:
            run_id, folder = stall
            stalled = record_stall(dynamodb, client("events"), table, run_id, bucket, folder, event.get("time", ""))
            metrics.add_metric(name="StallsRecorded", unit=MetricUnit.Count, value=int(stalled is not None))
            return {"stalled": run_id if stalled is not None else None}
        if (held := run_id_of_result_key(key, HOLD)) is not None:
            until = read_hold(client("s3"), bucket, key)["holdUntil"]
            holding = record_hold(dynamodb, client("events"), table, held, until)
            return {"holding": held if holding is not None else None}
        run_ids = [run_id for run_id in [run_id_of_result_key(key)] if run_id]
    else:
        run_ids = runs_of_instance(dynamodb, table, detail.get("instance-id", ""))
    stepfunctions = client("stepfunctions")
    woken = {run_id: wake(dynamodb, stepfunctions, table, run_id) for run_id in run_ids}
    metrics.add_metric(name="WatchersSignaled", unit=MetricUnit.Count, value=len(woken))
    return {"signaled": woken}


def runs_of_instance(dynamodb: Any, table: str, instance_id: str) -> list[str]:
    """The runs of this stack on that instance (none for the region's other instances: one cheap query)."""
    if not instance_id:
        return []
    found = dynamodb.query(
        TableName=table, IndexName=INSTANCE_INDEX, KeyConditionExpression="instanceId = :id",
        ExpressionAttributeValues={":id": {"S": instance_id}},
    )["Items"]  # fmt: skip
    return [item["runId"]["S"] for item in found]
