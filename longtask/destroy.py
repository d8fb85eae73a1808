"""`longtask destroy`: delete a stack, keeping its runs (the artifact bucket and the Runs table are retained)
unless asked to delete them too, and never while runs are RUNNING unless they are aborted first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .client import LongTaskClient
from .errors import LongTaskError, UserError
from .waiting import poll_condition

DELETE_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Teardown:
    """What deleting the stack does: its resources go, its runs' bucket and table stay (or go too)."""

    stack: str
    resources: int
    bucket: str
    table: str
    running: list[str]

    def describe(self, delete_runs: bool) -> str:
        kept = f"deletes the bucket {self.bucket} (every version) and the table {self.table} too" if delete_runs \
            else f"keeps the bucket {self.bucket} and the table {self.table} (runs' logs and records)"
        return f"deletes stack {self.stack} ({self.resources} resources) and {kept}"


def plan(client: LongTaskClient, force: bool) -> Teardown:
    """What destroying the stack would do; UserError while runs are RUNNING (their executions, which exist
    before their records do), unless force (they are aborted first)."""
    cloudformation = client.target.client("cloudformation")
    resources = cloudformation.describe_stack_resources(StackName=client.target.stack_name)["StackResources"]
    pages = client.stepfunctions.get_paginator("list_executions").paginate(
        stateMachineArn=client.stack.state_machine_arn, statusFilter="RUNNING")
    running = [execution["name"] for page in pages for execution in page["executions"]]
    teardown = Teardown(client.target.stack_name, len(resources), client.stack.bucket, client.stack.table, running)
    if running and not force:
        shown = ", ".join(running[:5]) + (" ..." if len(running) > 5 else "")
        raise UserError(f"stack {teardown.stack} has RUNNING runs ({shown}); wait for them, `longtask abort` "
                        "them, or destroy with --force, which aborts them first")  # fmt: skip
    return teardown


def destroy(client: LongTaskClient, teardown: Teardown, delete_runs: bool) -> None:
    """Abort the RUNNING runs; delete the stack; then the bucket and the table if asked."""
    for run_id in teardown.running:
        client.abort(run_id)
    cloudformation = client.target.client("cloudformation")
    cloudformation.delete_stack(StackName=teardown.stack)
    if not poll_condition(lambda: _gone(cloudformation, teardown.stack), DELETE_TIMEOUT_SECONDS, 1):
        raise LongTaskError(f"stack {teardown.stack} was not deleted within {DELETE_TIMEOUT_SECONDS} s; see its events")
    if delete_runs:
        _empty_and_delete_bucket(client.target.client("s3"), teardown.bucket)
        client.target.client("dynamodb").delete_table(TableName=teardown.table)


def _gone(cloudformation: Any, stack: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError:
        return True  # "does not exist"
    if stacks and stacks[0]["StackStatus"] == "DELETE_FAILED":
        reason = stacks[0].get("StackStatusReason", "")
        raise LongTaskError(f"deleting stack {stack} failed: {reason}; fix it and run destroy again")
    return not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE"


def _empty_and_delete_bucket(s3: Any, bucket: str) -> None:
    """Every version and delete marker of the (versioned) bucket, then the bucket."""
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
    for page in pages:
        objects = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]  # fmt: skip
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)
