"""Terminate this stack's instances whose run is over, and settle Runs items left RUNNING."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

ALIVE = ["pending", "running", "stopping", "stopped"]
STATUS_INDEX = "ByStatus"  # the Runs table's index by status (template.yaml)
ITEM_STATUS = {"ABORTED": "ABORTED", "FAILED": "ABORTED", "TIMED_OUT": "TIMED_OUT"}


def execution_status(stepfunctions: Any, execution_arn: str | None) -> str:
    """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, or MISSING."""
    if not execution_arn:
        return "MISSING"
    try:
        return stepfunctions.describe_execution(executionArn=execution_arn)["status"]
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
            return "MISSING"
        raise


def sweep(clients: dict[str, Any], table: str, stack_name: str, now: datetime, grace: timedelta) -> list[dict]:
    """Terminate instances tagged by this stack whose execution is not running or whose deadline is long past."""
    ec2 = clients["ec2"]
    reaped = []
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": "tag:longtask:stack", "Values": [stack_name]},
            {"Name": "instance-state-name", "Values": ALIVE},
        ]
    )
    for instance in (i for page in pages for r in page["Reservations"] for i in r["Instances"]):
        tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
        execution = execution_status(clients["stepfunctions"], tags.get("longtask:execution-arn"))
        deadline = datetime.fromisoformat(tags.get("longtask:deadline", now.isoformat()))
        if execution != "RUNNING":
            status, reason = ITEM_STATUS.get(execution, "ABORTED"), f"its execution is {execution}"
        elif now > deadline + grace:
            status, reason = "TIMED_OUT", f"its deadline {tags['longtask:deadline']} passed {grace} ago"
        else:
            continue
        ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
        reason = f"the reaper terminated {instance['InstanceId']}: {reason}"
        settled = settle(clients["dynamodb"], table, tags.get("longtask:run-id", ""), status, reason, now)
        reaped.append({"instanceId": instance["InstanceId"], "runId": tags.get("longtask:run-id"),
                       "status": status, "settled": settled, "reason": reason})  # fmt: skip
    return reaped


def settle(dynamodb: Any, table: str, run_id: str, status: str, reason: str, now: datetime) -> bool:
    """Give a Runs item still RUNNING its final status; return whether it was RUNNING."""
    if not run_id:
        return False
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"runId": {"S": run_id}},
            UpdateExpression="SET #status = :status, #reason = :reason, #finishedAt = :finishedAt, "
            "#expiresAt = :expiresAt",
            ConditionExpression="#status = :running",
            ExpressionAttributeNames={
                "#status": "status",
                "#reason": "reason",
                "#finishedAt": "finishedAt",
                "#expiresAt": "expiresAt",
            },
            ExpressionAttributeValues={
                ":status": {"S": status},
                ":reason": {"S": reason},
                ":finishedAt": {"S": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
                ":expiresAt": {"N": str(expires_at(now))},
                ":running": {"S": "RUNNING"},
            },
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def expires_at(finished: datetime) -> int:
    """When DynamoDB's TTL removes a finished run's item: with its logs, RUN_RETENTION_DAYS after it ended."""
    return int((finished + timedelta(days=int(os.environ.get("RUN_RETENTION_DAYS", "90")))).timestamp())


def settle_orphaned_runs(clients: dict[str, Any], table: str, now: datetime) -> list[str]:
    """Runs still RUNNING in the table whose execution has ended (its status event was missed)."""
    settled = []
    pages = (
        clients["dynamodb"]
        .get_paginator("query")
        .paginate(
            TableName=table,
            IndexName=STATUS_INDEX,
            KeyConditionExpression="#status = :running",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":running": {"S": "RUNNING"}},
        )
    )
    for item in (item for page in pages for item in page["Items"]):
        run_id = item["runId"]["S"]
        execution = execution_status(clients["stepfunctions"], item.get("executionArn", {}).get("S"))
        if execution == "RUNNING":
            continue
        reason = f"its execution is {execution} but the run was still recorded RUNNING"
        if settle(clients["dynamodb"], table, run_id, ITEM_STATUS.get(execution, "ABORTED"), reason, now):
            settled.append(run_id)
    return settled


def settle_ended_execution(dynamodb: Any, table: str, detail: dict[str, Any], now: datetime) -> bool:
    """For an "Execution Status Change" event: a run whose execution ended from outside is not RUNNING."""
    status = ITEM_STATUS.get(detail.get("status", ""))
    run_id = detail.get("name") or detail.get("executionArn", "").rsplit(":", 1)[-1]
    if status is None or not run_id:
        return False
    reason = f"its execution ended {detail['status']} before the workflow could record the outcome"
    return settle(dynamodb, table, run_id, status, reason, now)
