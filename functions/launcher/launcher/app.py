"""Launcher Lambda handler: validate the run's input and launch its instance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from .runs import Execution, start_run
from .settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="LongTask")
# botocore makes 3 attempts on server errors; throttling and capacity are the launcher's own (instances.py)
EC2_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: {"input": <execution input>, "attempt": n, "interruptions": Spot interruptions so far, "enteredAt":
    <when the launch state was entered>, "execution": {"arn", "name"}} (built by the workflow)."""
    execution = Execution(arn=event["execution"]["arn"], name=event["execution"]["name"])
    logger.append_keys(run_id=execution.name)
    settings = Settings.from_environment()
    attempt = int(event.get("attempt") or 0)
    interruptions = int(event.get("interruptions") or 0)
    ec2 = boto3.client("ec2", config=EC2_CONFIG)
    entered = event.get("enteredAt")
    launched_at = datetime.fromisoformat(entered) if entered else datetime.now(UTC)
    s3 = boto3.client("s3")
    started = start_run(event.get("input"), execution, settings, ec2, s3, attempt, launched_at, interruptions)
    logger.info("instance launched", extra={"launch": started["launch"]})
    metrics.add_metric(name="InstancesLaunched", unit=MetricUnit.Count, value=1)
    return started
