"""Terminate this stack's instances whose run is over, and settle the Runs items of ended executions.

Outside the workflow, this is the one writer of a run's status: it writes only once the execution has ended
(so the workflow can no longer write), only over an item still QUEUED, RUNNING, HOLDING or missing, and only the record
the execution itself tells (common/execution.py), never a status of its own choosing. It also gives back the queue
slot of every ended execution (common/queues.py): none is leaked by a run that crashed or was stopped.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from common import tags as tag
from common.events import state_change
from common.execution import settled_record
from common.queues import DEFAULT_QUEUE, Queues
from common.record import from_item, to_item
from common.statuses import ACTIVE, HOLDING, QUEUED, RUNNING
from common.timestamps import parse_iso_utc

ALIVE = ["pending", "running", "stopping", "stopped"]
EC2_STATE_CHANGE = "EC2 Instance State-change Notification"
STATUS_INDEX = "ByStatus"  # the Runs table's index by status (template.yaml)

logger = Logger(child=True)


def describe_execution(stepfunctions: Any, execution_arn: str | None) -> dict[str, Any] | None:
    """DescribeExecution, or None when there is no such execution."""
    if not execution_arn:
        return None
    try:
        return stepfunctions.describe_execution(executionArn=execution_arn)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
            return None
        raise


class Executions:
    """The executions a sweep looks at. Those running come from one ListExecutions page per 1,000 runs, not a
    DescribeExecution each: at scale the sweep's DescribeExecution calls alone would outrun that action's bucket
    (docs/scale.md). ListExecutions is eventually consistent, so an execution it does not list as running is
    described before anything is done to its run."""

    def __init__(self, stepfunctions: Any, state_machine_arn: str) -> None:
        self.stepfunctions, self.state_machine_arn = stepfunctions, state_machine_arn
        self._running: set[str] | None = None

    def running(self) -> set[str]:
        if self._running is None:
            pages = self.stepfunctions.get_paginator("list_executions").paginate(
                stateMachineArn=self.state_machine_arn, statusFilter=RUNNING)
            self._running = {e["executionArn"] for page in pages for e in page["executions"]}
        return self._running

    def status(self, execution_arn: str | None) -> dict[str, Any] | None:
        """The execution as far as the sweep needs it ({"status": "RUNNING"} for one listed running), or None."""
        if execution_arn and execution_arn in self.running():
            return {"executionArn": execution_arn, "status": RUNNING}
        return describe_execution(self.stepfunctions, execution_arn)


def reap_execution(clients: dict[str, Any], queues: Queues, table: str, stack_name: str, execution_arn: str,
                   now: datetime, retention_days: int) -> dict[str, Any]:  # fmt: skip
    """For one execution that has ended: terminate its instances, settle its run and give back its slot. A running
    one is left be."""
    execution = describe_execution(clients["stepfunctions"], execution_arn)
    if execution is None or execution["status"] == RUNNING:
        return {"terminated": [], "record": None}
    pages = clients["ec2"].get_paginator("describe_instances").paginate(Filters=[
        {"Name": f"tag:{tag.EXECUTION_ARN}", "Values": [execution_arn]},
        {"Name": f"tag:{tag.STACK}", "Values": [stack_name]},
        {"Name": "instance-state-name", "Values": ALIVE},
    ])  # fmt: skip
    instance_ids = [i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"]]
    if instance_ids:
        clients["ec2"].terminate_instances(InstanceIds=instance_ids)
    record = settle_run(clients, table, execution, now, retention_days)
    queues.release(queue_of(execution), execution["name"])
    return {"terminated": instance_ids, "record": record}


def reap_late_launch(clients: dict[str, Any], queues: Queues, table: str, stack_name: str, instance_id: str,
                     now: datetime, retention_days: int) -> dict[str, Any]:  # fmt: skip
    """An instance of this stack now running: reaped with its execution if that has ended already (stopped while its
    launch was in flight, so the reap at its end found nothing yet); any other instance is left be."""
    reservations = clients["ec2"].describe_instances(InstanceIds=[instance_id])["Reservations"] if instance_id else []
    tags = {t["Key"]: t["Value"] for r in reservations for i in r["Instances"] for t in i.get("Tags", [])}
    if tags.get(tag.STACK) != stack_name or not tags.get(tag.EXECUTION_ARN):
        return {"terminated": [], "record": None}
    return reap_execution(clients, queues, table, stack_name, tags[tag.EXECUTION_ARN], now, retention_days)


def queue_of(execution: dict[str, Any]) -> str:
    """The queue a run names in its input (the launcher refused any other shape before taking a slot)."""
    try:
        run_input = json.loads(execution.get("input") or "{}")
    except json.JSONDecodeError:
        return DEFAULT_QUEUE
    queue = run_input.get("queue") if isinstance(run_input, dict) else None
    return queue if isinstance(queue, str) and queue else DEFAULT_QUEUE


def reclaim_slots(executions: Executions, queues: Queues) -> list[str]:
    """Give back the slots of executions that ended without giving theirs back (a crash, a lost write)."""
    reclaimed = []
    for slot in queues.slots():
        execution = executions.status(slot.execution_arn)
        if (execution is None or execution["status"] != RUNNING) and queues.release(slot.queue, slot.run_id):
            reclaimed.append(slot.run_id)
    return reclaimed


def sweep(clients: dict[str, Any], executions: Executions, table: str, stack_name: str, now: datetime,
          grace: timedelta, retention_days: int) -> list[dict]:  # fmt: skip
    """Terminate instances tagged by this stack whose execution is not running (and settle its run), or whose
    deadline is long past (the workflow, still running, then records the run)."""
    ec2 = clients["ec2"]
    reaped = []
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": f"tag:{tag.STACK}", "Values": [stack_name]},
            {"Name": "instance-state-name", "Values": ALIVE},
        ]
    )
    for instance in (i for page in pages for r in page["Reservations"] for i in r["Instances"]):
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        execution = executions.status(tags.get(tag.EXECUTION_ARN))
        status = execution["status"] if execution else "MISSING"
        if status != RUNNING:
            reason = f"its execution is {status}"
        elif tag.DEADLINE in tags and now > parse_iso_utc(tags[tag.DEADLINE]) + grace:
            reason = f"its deadline {tags[tag.DEADLINE]} passed {grace} ago"
        else:
            continue
        ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
        settled = None
        if execution is not None and status != RUNNING:
            settled = settle_run(clients, table, execution, now, retention_days)
        reaped.append({"instanceId": instance["InstanceId"], "runId": tags.get(tag.RUN_ID),
                       "settled": settled is not None, "reason": f"the reaper terminated it: {reason}"})  # fmt: skip
    return reaped


def settle_run(clients: dict[str, Any], table: str, execution: dict[str, Any], now: datetime, retention_days: int
               ) -> dict[str, Any] | None:  # fmt: skip
    """Write the final record of an ended execution's run unless the workflow did, and announce it (the run
    state-change event); return it when written."""
    dynamodb, run_id = clients["dynamodb"], execution["name"]
    found = dynamodb.get_item(TableName=table, Key={"runId": {"S": run_id}}, ConsistentRead=True).get("Item")
    item = from_item(found) if found else None
    if item is not None and item.get("status") not in ACTIVE:
        return None
    record = settled_record(execution, item, now)
    try:
        dynamodb.put_item(
            TableName=table,
            Item=to_item(record, retention_days),
            ConditionExpression="attribute_not_exists(runId) OR #status IN (:running, :queued, :holding)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":running": {"S": RUNNING}, ":queued": {"S": QUEUED},
                                       ":holding": {"S": HOLDING}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None  # the workflow or another reaper got there first
        raise
    announce(clients["events"], record)
    return record


def announce(events: Any, record: dict[str, Any], tries: int = 3) -> bool:
    """Put the run's state-change event, trying again while EventBridge refuses the entry: PutEvents answers 200
    with FailedEntryCount for an entry it did not take (e.g. ThrottlingException, InternalFailure)
    (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html). False when it was not put.
    The record is written first: a lost announcement must not fail the settle (or `abort`)."""
    for _ in range(tries):
        try:
            answer = events.put_events(Entries=[state_change(record)])
        except ClientError:
            logger.exception("could not announce the settled run", extra={"runId": record["runId"]})
            continue
        if not answer.get("FailedEntryCount"):
            return True
        logger.warning("EventBridge refused the run's event", extra={"runId": record["runId"],
                                                                     "entry": answer["Entries"][0]})  # fmt: skip
    logger.error("the settled run was not announced", extra={"runId": record["runId"]})
    return False


def settle_orphaned_runs(clients: dict[str, Any], executions: Executions, table: str, now: datetime,
                         retention_days: int) -> list[str]:  # fmt: skip
    """Runs still QUEUED or RUNNING in the table whose execution has ended (the workflow's final write failed, and
    the execution's status event was missed)."""
    settled = []
    items = [item for status in ACTIVE for page in clients["dynamodb"].get_paginator("query").paginate(
        TableName=table,
        IndexName=STATUS_INDEX,
        KeyConditionExpression="#status = :status",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":status": {"S": status}},
    ) for item in page["Items"]]  # fmt: skip
    for item in items:
        execution = executions.status(item.get("executionArn", {}).get("S"))
        ended = execution is not None and execution["status"] != RUNNING
        if ended and settle_run(clients, table, execution, now, retention_days) is not None:
            settled.append(item["runId"]["S"])
    return settled
