"""Outcome Lambda handler: the final run record of an ended run."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.clients import client
from common.launch import Launch
from common.pricing import Prices
from common.queues import Queues

from .collect import collect

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="LongTask")


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: {"runId": ..., "run": <the workflow's state>}; returns {"record", "item", "error"}."""
    logger.append_keys(run_id=event["runId"])
    ec2 = client("ec2")
    prices = Prices(ec2, ec2.meta.region_name, lambda region: client("pricing", region_name=region))
    outcome = collect(event["runId"], event["run"], client("s3"), ec2, prices, event.get("startedAt"))
    if event["run"].get("launch"):  # its instance has ended: its slot goes to the queue's next run
        launch = Launch.from_dict(event["run"]["launch"])
        queues = Queues(client("dynamodb"), os.environ["QUEUES_TABLE"], client("stepfunctions"))
        queues.release(launch.queue, event["runId"])
    unpriced = outcome.pop("unpriced")
    if unpriced:
        logger.warning("the attempt's cost is unknown", extra={"why": unpriced})
    logger.info("run finished", extra={"status": outcome["record"]["status"]})
    metrics.add_metric(
        name=f"Runs{outcome['record']['status'].title().replace('_', '')}", unit=MetricUnit.Count, value=1
    )
    return outcome
