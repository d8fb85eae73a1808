"""Launcher Lambda handler: validate the run's input and launch its instance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError
from common.capacity import Capacity
from common.clients import client
from common.events import state_change
from common.pricing import Prices
from common.queues import Queues
from common.statuses import QUEUED, RUNNING

from .queueing import Carry
from .runs import Attempt, Execution, Queueing, start_run
from .settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="LongTask")
# botocore makes 3 attempts on server errors; throttling and capacity are the launcher's own (instances.py)
EC2_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3})
_CAPACITY: Capacity | None = None


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event: {"input": <execution input>, "carry": where the run stands (queueing.Carry: attempt, Spot
    interruptions and spend so far, and its wait if it waits), "enteredAt": <when the launch state was entered>,
    "execution": {"arn", "name", "startTime"}} (built by the workflow). Returns {"launch", "record", "item", "carry"}: a
    launch, or (launch null) a QUEUED run and the carry of its wait."""
    execution = Execution(arn=event["execution"]["arn"], name=event["execution"]["name"],
                          start_time=event["execution"].get("startTime", ""))  # fmt: skip
    logger.append_keys(run_id=execution.name)
    settings = Settings.from_environment()
    carry = Carry.from_dict(event.get("carry"))
    ec2 = client("ec2", config=EC2_CONFIG)
    entered = event.get("enteredAt")
    launched_at = datetime.fromisoformat(entered) if entered else datetime.now(UTC)
    prices = Prices(ec2, ec2.meta.region_name, lambda region: client("pricing", region_name=region))
    queueing = Queueing(Queues(client("dynamodb"), settings.queues_table, client("stepfunctions")),
                        _capacity(ec2), carry)  # fmt: skip
    started = start_run(event.get("input"), execution, settings, ec2, client("s3"), Attempt.of(carry), launched_at,
                        prices, queueing)  # fmt: skip
    if started["launch"] is None:
        waiting = started["carry"]
        _record_queued(settings, started["record"], started["item"], announce=waiting["reason"] != carry.reason)
        logger.info("queued", extra={"reason": waiting["reason"], "retrySeconds": waiting["retrySeconds"]})
        metrics.add_metric(name="LaunchesQueued", unit=MetricUnit.Count, value=1)
        return started
    logger.info("instance launched", extra={"launch": started["launch"]})
    metrics.add_metric(name="InstancesLaunched", unit=MetricUnit.Count, value=1)
    return started


def _capacity(ec2: Any) -> Capacity:
    """One per Lambda environment: what it read of the account's quotas stays good for a while (capacity.py)."""
    global _CAPACITY
    if _CAPACITY is None or _CAPACITY.ec2 is not ec2:
        _CAPACITY = Capacity(ec2, client("service-quotas"))
    return _CAPACITY


def _record_queued(settings: Settings, record: dict[str, Any], item: dict[str, Any], announce: bool) -> None:
    """The QUEUED Runs item (never over a final one: a StopExecution may have settled the run), and its event when
    the run starts waiting or its reason changes."""
    try:
        client("dynamodb").put_item(
            TableName=settings.runs_table, Item=item,
            ConditionExpression="attribute_not_exists(runId) OR #status IN (:queued, :running)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":queued": {"S": QUEUED}, ":running": {"S": RUNNING}},
        )  # fmt: skip
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return
    if announce:
        answer = client("events").put_events(Entries=[state_change(record)])
        if answer.get("FailedEntryCount"):
            logger.warning("EventBridge refused the QUEUED event", extra={"entry": answer["Entries"][0]})
