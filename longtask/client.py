"""The client the CLI uses: starts runs and reads their state through the AWS APIs of a deployed stack."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

FINAL_EXECUTION_STATES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
STOP_TIMEOUT_SECONDS = 30


class RunNotFound(LookupError):
    """No run with that id in this stack."""


@dataclass(frozen=True)
class Target:
    """Where the stack lives: LocalStack (endpoint_url set) or an AWS account."""

    stack_name: str = "longtask"
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    ca_bundle: str | None = None  # the certificate the endpoint's TLS is verified with (the local engine's)

    def session(self) -> boto3.Session:
        if self.endpoint_url:
            return boto3.Session(
                aws_access_key_id="test", aws_secret_access_key="test", region_name=self.region or "us-east-1"
            )
        return boto3.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url, verify=self.ca_bundle)


@dataclass(frozen=True)
class Stack:
    """The outputs of a deployed stack."""

    state_machine_arn: str
    bucket: str
    table: str


def new_run_id() -> str:
    """A readable, sortable, unique execution name."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


class LongTaskClient:
    """Runs of one stack."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.stepfunctions = target.client("stepfunctions")
        self.s3 = target.client("s3")
        self.dynamodb = target.client("dynamodb")
        self.ec2 = target.client("ec2")
        self.stack = self._stack(target.client("cloudformation"))

    def _stack(self, cloudformation: Any) -> Stack:
        try:
            stack = cloudformation.describe_stacks(StackName=self.target.stack_name)["Stacks"][0]
        except ClientError as error:
            code = error.response["Error"]["Code"]
            raise RunNotFound(f"stack {self.target.stack_name} not found ({code}); deploy it first") from None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return Stack(outputs["StateMachineArn"], outputs["ArtifactBucketName"], outputs["RunsTableName"])

    def execution_arn(self, run_id: str) -> str:
        return f"{self.stack.state_machine_arn.replace(':stateMachine:', ':execution:')}:{run_id}"

    def start(self, run_input: dict[str, Any], run_id: str | None = None) -> str:
        """StartExecution with the run input; return the run id (the execution name)."""
        run_id = run_id or new_run_id()
        self.stepfunctions.start_execution(
            stateMachineArn=self.stack.state_machine_arn, name=run_id, input=json.dumps(run_input)
        )
        return run_id

    def execution(self, run_id: str) -> dict[str, Any]:
        try:
            return self.stepfunctions.describe_execution(executionArn=self.execution_arn(run_id))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
                raise RunNotFound(f"no run {run_id} in stack {self.target.stack_name}") from None
            raise

    def item(self, run_id: str) -> dict[str, Any] | None:
        """The run's item in the Runs table, if recorded."""
        found = self.dynamodb.get_item(TableName=self.stack.table, Key={"runId": {"S": run_id}}, ConsistentRead=True)
        return _plain(found["Item"]) if "Item" in found else None

    def record(self, run_id: str) -> dict[str, Any]:
        """The run record: the execution's output or Fail cause once it ended, else what the table says."""
        execution = self.execution(run_id)
        status = execution["status"]
        if status == "SUCCEEDED":
            return json.loads(execution["output"])
        if status == "FAILED" and execution.get("error", "").startswith("LongTask."):
            try:
                return json.loads(execution["cause"])
            except ValueError:
                pass
        item = self.item(run_id) or {
            "runId": run_id,
            "status": "LAUNCHING" if status == "RUNNING" else status,
        }
        if status != "RUNNING" and item.get("status") == "RUNNING":
            item = {
                **item,
                "status": status,
                "reason": execution.get("cause") or f"the execution ended {status}",
            }
        return item

    def is_final(self, run_id: str) -> bool:
        return self.execution(run_id)["status"] in FINAL_EXECUTION_STATES

    def wait(self, run_id: str, interval: float = 1.0) -> dict[str, Any]:
        """Block until the execution ends; return the run record."""
        while not self.is_final(run_id):
            time.sleep(interval)
        return self.record(run_id)

    def _wait_stopped(self, run_id: str, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while self.execution(run_id)["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {run_id} still RUNNING {timeout:.0f} s after StopExecution")
            time.sleep(0.2)

    def log_since(self, run_id: str, offset: int) -> bytes:
        """The run's console log from byte offset on (b"" when there is nothing new yet): the whole log once the
        instance reported, before that the chunks it uploads while it runs (live-log/<attempt>-<sequence>)."""
        key = f"runs/{run_id}/cloud-init-output.log"
        try:
            body = self.s3.get_object(Bucket=self.stack.bucket, Key=key, Range=f"bytes={offset}-")["Body"]
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "InvalidRange":
                return b""
            if code in ("NoSuchKey", "404"):
                return self._live_log_since(run_id, offset)
            raise
        return body.read()

    def _live_log_since(self, run_id: str, offset: int) -> bytes:
        """The latest attempt's live-log chunks from byte offset on, reading only the chunks that hold it."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.stack.bucket, Prefix=f"runs/{run_id}/live-log/"
        )
        chunks = sorted((o["Key"], o["Size"]) for page in pages for o in page.get("Contents", []))
        latest = max((key.rsplit("/", 1)[1].split("-")[0] for key, _ in chunks), default=None)
        start, found = 0, b""
        for key, size in chunks:
            if key.rsplit("/", 1)[1].split("-")[0] == latest:
                if start + size > offset:
                    body = self.s3.get_object(Bucket=self.stack.bucket, Key=key)["Body"].read()
                    found += body[max(0, offset - start):]
                start += size
        return found

    def follow_log(self, run_id: str, interval: float = 1.0) -> Iterator[bytes]:
        """Every interval, yield the log content that is new (b"" if none) until the run has ended."""
        offset = 0
        while True:
            final = self.is_final(run_id)
            chunk = self.log_since(run_id, offset)
            offset += len(chunk)
            yield chunk
            if final:
                return
            time.sleep(interval)

    def list_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest runs in the Runs table."""
        items: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=self.stack.table):
            items += [_plain(item) for item in page["Items"]]
        items.sort(key=lambda item: item.get("launchedAt") or item.get("finishedAt") or "", reverse=True)
        return items[:limit]

    def abort(self, run_id: str) -> dict[str, Any]:
        """Stop the execution, terminate its instance and record the run as ABORTED."""
        reason = "aborted by the user (longtask abort)"
        execution = self.execution(run_id)
        if execution["status"] == "RUNNING":
            self.stepfunctions.stop_execution(
                executionArn=execution["executionArn"], error="LongTask.Aborted", cause=reason
            )
            # StopExecution returns before the stop has settled (the local engine applies it on the execution's
            # own worker): return only once the execution is over, so the caller never sees it RUNNING after this
            self._wait_stopped(run_id)
        live = self.ec2.describe_instances(
            Filters=[
                {"Name": "tag:longtask:execution-arn", "Values": [execution["executionArn"]]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
            ]
        )["Reservations"]
        instance_ids = [instance["InstanceId"] for r in live for instance in r["Instances"]]
        if instance_ids:
            self.ec2.terminate_instances(InstanceIds=instance_ids)
        item = self.item(run_id) or {}
        if item.get("status") in (None, "RUNNING"):
            self.dynamodb.update_item(
                TableName=self.stack.table,
                Key={"runId": {"S": run_id}},
                UpdateExpression="SET #status = :status, #reason = :reason, #finishedAt = :finishedAt",
                ExpressionAttributeNames={
                    "#status": "status",
                    "#reason": "reason",
                    "#finishedAt": "finishedAt",
                },
                ExpressionAttributeValues={
                    ":status": {"S": "ABORTED"},
                    ":reason": {"S": reason},
                    ":finishedAt": {"S": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
                },
            )
        return self.item(run_id) or {"runId": run_id, "status": "ABORTED", "reason": reason}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain JSON values (the record's only number is the exit code)."""
    deserialize = TypeDeserializer().deserialize
    plain = {name: deserialize(value) for name, value in item.items()}
    return {name: int(value) if isinstance(value, Decimal) else value for name, value in plain.items()}
