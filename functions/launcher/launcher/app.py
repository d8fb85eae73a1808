"""Launcher Lambda handler: validate the run's input and launch its instance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from common.clients import client
from common.pricing import Prices

from .runs import Attempt, Execution, start_run
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
    """Event: {"input": <execution input>, "attempt": n, "interruptions": Spot interruptions so far, "spentUsd":
    what the earlier attempts cost, "enteredAt": <when the launch state was entered>, "execution": {"arn",
    "name"}} (built by the workflow)."""
    execution = Execution(arn=event["execution"]["arn"], name=event["execution"]["name"])
    logger.append_keys(run_id=execution.name)
    settings = Settings.from_environment()
    attempt = Attempt(int(event.get("attempt") or 0), int(event.get("interruptions") or 0),
                      float(event.get("spentUsd") or 0))  # fmt: skip
    ec2 = client("ec2", config=EC2_CONFIG)
    entered = event.get("enteredAt")
    launched_at = datetime.fromisoformat(entered) if entered else datetime.now(UTC)
    prices = Prices(ec2, ec2.meta.region_name, lambda region: client("pricing", region_name=region))
    started = start_run(event.get("input"), execution, settings, ec2, client("s3"), attempt, launched_at, prices)
    logger.info("instance launched", extra={"launch": started["launch"]})
    metrics.add_metric(name="InstancesLaunched", unit=MetricUnit.Count, value=1)
    return started
