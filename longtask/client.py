"""The client the CLI uses: starts runs and reads their state through the AWS APIs of a deployed stack. It never
writes a run's status: the workflow does, and after it the reaper (which `abort` invokes). It sets queues' caps."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import cached_property
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .common.execution import carried_record, settled_record
from .common.keys import RELEASE, STAGED_SCRIPT, RunKeys, live_log_attempt, split_s3_uri
from .common.queues import QueueError, Queues, Usage, check_queue_name
from .common.record import LISTED_AT, STATUS_TIME_INDEX, from_item
from .common.statuses import ACTIVE, ERROR_NAMES, EXECUTION_ENDED, FINAL, HOLDING, LIVE, RUNNING
from .errors import LongTaskError, RunNotFound, UserError
from .waiting import poll_condition

STOP_TIMEOUT_SECONDS = 30
# A larger script is staged in S3 instead of carried in the execution input: Step Functions refuses an input over
# 256 KiB, and the workflow carries the input again into its states
# (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html)
STAGE_SCRIPT_BYTES = 8 * 1024
RUN_SHELL_SCRIPT = "AWS-RunShellScript"
# what GetCommandInvocation returns of each stream; the rest is in S3
# (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html)
STDOUT_RETURNED, STDERR_RETURNED = 24_000, 8_000
PENDING_SECONDS = 120  # how long exec waits for an instance still booting
EXEC_OUTPUT = "exec"  # runs/<run id>/exec/<command id>/...: a command's whole output
# a command first reads the run's variables (the bootstrap's profile), in the work directory the bootstrap uses
EXEC_PROFILE = '. "${LONGTASK_WORK_DIR:-/var/lib/longtask}/profile"'
_SESSION_LOCK = threading.Lock()
LISTED = (*ACTIVE, *FINAL)  # the statuses a Runs item may have


@dataclass(frozen=True)
class Target:
    """Where the stack lives: LocalStack (endpoint_url set) or an AWS account."""

    stack_name: str = "longtask"
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    ca_bundle: str | None = None  # the certificate the endpoint's TLS is verified with (the local engine's)

    @cached_property
    def session(self) -> boto3.Session:
        """One session for all the target's clients: each session loads botocore's data files again."""
        if self.endpoint_url:
            return boto3.Session(
                aws_access_key_id="test", aws_secret_access_key="test", region_name=self.region or "us-east-1"
            )
        return boto3.Session(profile_name=self.profile, region_name=self.region)

    @property
    def end_poll_seconds(self) -> float:
        """How often a follower asks whether a run has ended: often on the local engine, which answers in
        milliseconds; once a second on AWS, where DescribeExecution's rate is a quota the whole account shares
        (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html)."""
        return 0.2 if self.endpoint_url else 1.0

    def client(self, service: str) -> Any:
        with _SESSION_LOCK:  # a session is not thread-safe; the clients it makes are
            return self.session.client(service, endpoint_url=self.endpoint_url, verify=self.ca_bundle)


@dataclass(frozen=True)
class Stack:
    """The outputs of a deployed stack."""

    state_machine_arn: str
    bucket: str
    table: str
    reaper_function: str
    queues_table: str = ""  # a stack deployed before queues has none


@dataclass(frozen=True)
class Invocation:
    """What a command run on a run's instance answered."""

    exit_code: int
    stdout: str
    stderr: str


def new_run_id() -> str:
    """A readable, sortable, unique execution name."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _service_client(service: str) -> cached_property:
    """The target's client for the service, made when first used: making one loads its service's model (0.1 s
    or more), and most commands use two or three services."""
    return cached_property(lambda client: client.target.client(service))


class Keep(Enum):
    KEEP = "keep"


KEEP = Keep.KEEP  # set_queue: leave this cap as it is


@dataclass(frozen=True)
class QueueView:
    """A queue as `longtask queue` shows it."""

    usage: Usage
    waiting: list[str]  # run ids, in the order they start
    head_reason: str | None


class LongTaskClient:
    """Runs of one stack."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.stack = self._stack(target.client("cloudformation"))

    stepfunctions = _service_client("stepfunctions")
    s3 = _service_client("s3")
    dynamodb = _service_client("dynamodb")
    lambda_ = _service_client("lambda")

    def _stack(self, cloudformation: Any) -> Stack:
        try:
            stack = cloudformation.describe_stacks(StackName=self.target.stack_name)["Stacks"][0]
        except ClientError as error:
            code = error.response["Error"]["Code"]
            raise RunNotFound(f"stack {self.target.stack_name} not found ({code}); deploy it first") from None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return Stack(outputs["StateMachineArn"], outputs["ArtifactBucketName"], outputs["RunsTableName"],
                     outputs["ReaperFunctionName"], outputs.get("QueuesTableName", ""))  # fmt: skip

    def execution_arn(self, run_id: str) -> str:
        return f"{self.stack.state_machine_arn.replace(':stateMachine:', ':execution:')}:{run_id}"

    def start(self, run_input: dict[str, Any], run_id: str | None = None) -> str:
        """StartExecution with the run input; return the run id (the execution name). A script over
        STAGE_SCRIPT_BYTES is staged first (stage_script), so the input stays far below Step Functions' 256 KiB."""
        run_id = run_id or new_run_id()
        script = run_input.get("script")
        if isinstance(script, str) and len(script.encode()) > STAGE_SCRIPT_BYTES:
            run_input = {**{k: v for k, v in run_input.items() if k != "script"},
                         "scriptS3Uri": self.stage_script(run_id, script)}  # fmt: skip
        self.stepfunctions.start_execution(
            stateMachineArn=self.stack.state_machine_arn, name=run_id, input=json.dumps(run_input)
        )
        return run_id

    def stage_script(self, run_id: str, script: str) -> str:
        """Put the script where the run's own staged script goes (runs/<run id>/script.sh): the instances may read
        it, and no trigger fires there (ScriptUploadPrefix may not overlap runs/). The launcher reads it back and
        checks it as an inline script."""
        key = RunKeys(run_id).key(STAGED_SCRIPT)
        self.s3.put_object(Bucket=self.stack.bucket, Key=key, Body=script.encode())
        return f"s3://{self.stack.bucket}/{key}"

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
        return from_item(found["Item"]) if "Item" in found else None

    def record(self, run_id: str) -> dict[str, Any]:
        """The run record: the one the ended execution carries, else what the table says (LAUNCHING before the
        first record); for an ended execution whose item is still QUEUED or RUNNING, what the reaper will write."""
        execution = self.execution(run_id)
        carried = carried_record(execution)
        if carried is not None:
            return carried
        item = self.item(run_id)
        if execution["status"] in EXECUTION_ENDED and (item is None or item.get("status") in ACTIVE):
            return settled_record(execution, item, datetime.now(UTC))
        return item or {"runId": run_id, "status": "LAUNCHING"}

    def is_final(self, run_id: str) -> bool:
        return self.execution(run_id)["status"] in EXECUTION_ENDED

    def wait(self, run_id: str, interval: float = 1.0) -> dict[str, Any]:
        """Block until the execution ends; return the run record."""
        poll_condition(lambda: self.is_final(run_id), interval=interval)
        return self.record(run_id)

    def wait_all(self, run_ids: list[str], interval: float = 1.0) -> list[dict[str, Any]]:
        """Block until every one of these executions has ended; return their run records, in order. One run is
        polled at a time (the first still running), so many runs cost one DescribeExecution a poll, not one
        each: the last ends no later for it."""
        return [self.wait(run_id, interval) for run_id in run_ids]

    def log_since(self, run_id: str, offset: int) -> bytes:
        """The run's console log from byte offset on (b"" when there is nothing new yet): the whole log once the
        instance reported, before that the chunks it uploads while it runs (live-log/<attempt>-<sequence>)."""
        record = self.item(run_id) or {}
        if not record.get("logUri"):
            return b""  # not launched yet
        bucket, key = split_s3_uri(record["logUri"])
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-")["Body"]
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "InvalidRange":
                return b""
            if code in ("NoSuchKey", "404"):
                return self._live_log_since(record["liveLogUri"], offset)
            raise
        return body.read()

    def _live_log_since(self, live_log_uri: str, offset: int) -> bytes:
        """The latest attempt's live-log chunks from byte offset on, reading only the chunks that hold it."""
        bucket, prefix = split_s3_uri(live_log_uri)
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        chunks = sorted((o["Key"], o["Size"]) for page in pages for o in page.get("Contents", []))
        latest = max((live_log_attempt(key) for key, _ in chunks), default=None)
        start, found = 0, b""
        for key, size in chunks:
            if live_log_attempt(key) == latest:
                if start + size > offset:
                    body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                    found += body[max(0, offset - start):]
                start += size
        return found

    def follow_log(self, run_id: str, interval: float = 1.0) -> Iterator[bytes]:
        """Every interval, yield the log content that is new (b"" if none) until the run has ended, which is
        looked for every end_poll_seconds in between."""
        offset, final = 0, self.is_final(run_id)
        while True:
            chunk = self.log_since(run_id, offset)  # after the end was seen: the whole log
            offset += len(chunk)
            yield chunk
            if final:
                return
            final = poll_condition(lambda: self.is_final(run_id), interval, self.target.end_poll_seconds)

    def list_runs(self, limit: int = 50, status: str | None = None, queue: str | None = None
                  ) -> list[dict[str, Any]]:  # fmt: skip
        """The newest runs (by when their execution started), of one status and one queue if given: each status's
        newest from the Runs table's ByStatusAndTime index, merged. No scan: each status costs a query or two."""
        statuses = [status] if status else LISTED
        with ThreadPoolExecutor(max_workers=len(statuses)) as queries:  # side by side: one round trip, not twelve
            pages = list(queries.map(lambda one: self._newest(one, queue, limit), statuses))
        items = [item for page in pages for item in page]
        items.sort(key=lambda item: item[LISTED_AT]["S"], reverse=True)
        return [from_item(item) for item in items[:limit]]

    def _newest(self, status: str, queue: str | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` items of one status (and queue), newest first."""
        query: dict[str, Any] = {
            "TableName": self.stack.table, "IndexName": STATUS_TIME_INDEX, "KeyConditionExpression": "#s = :s",
            "ScanIndexForward": False, "Limit": limit, "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": status}},
        }  # fmt: skip
        if queue is not None:  # read past other queues' runs until enough are found
            query["FilterExpression"] = "#q = :q"
            query["ExpressionAttributeNames"]["#q"] = "queue"
            query["ExpressionAttributeValues"][":q"] = {"S": queue}
        found: list[dict[str, Any]] = []
        while len(found) < limit:
            page = self.dynamodb.query(**query)
            found += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:limit]

    def with_positions(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Queued runs with their place in their queue's order ("position", 1 first; None: not parked now, e.g.
        between two tries), in that order."""
        order: dict[str, dict[str, int]] = {}
        for run in runs:
            queue = run.get("queue") or "default"
            if queue not in order:
                order[queue] = {w.run_id: n for n, w in enumerate(self.queues.waiters(queue), start=1)}
        placed = [{**run, "position": order[run.get("queue") or "default"].get(run["runId"])} for run in runs]
        return sorted(placed, key=lambda run: (run.get("queue") or "", run["position"] or 1_000_000))

    @cached_property
    def queues(self) -> Queues:
        """The stack's queues (common/queues.py): caps, slots, waiting runs."""
        if not self.stack.queues_table:
            raise LongTaskError(f"stack {self.target.stack_name} has no queues yet; deploy it again")
        return Queues(self.dynamodb, self.stack.queues_table, self.stepfunctions)

    def queue_views(self) -> list[QueueView]:
        """Each queue: its caps and usage, its waiting runs in order, and why the first one waits."""
        views = []
        for usage in self.queues.all_usage():
            waiting = [w.run_id for w in self.queues.waiters(usage.name)]
            head = self.item(waiting[0]) if waiting else None
            views.append(QueueView(usage, waiting, (head or {}).get("waitReason")))
        return views

    def set_queue(self, name: str, max_runs: int | Keep | None, max_vcpus: int | Keep | None) -> Usage:
        """Set a queue's caps (a number), lift them (None) or keep them (KEEP); raising one wakes waiting runs."""
        try:
            current = self.queues.usage(check_queue_name(name))
            return self.queues.set_caps(name, current.max_runs if max_runs is KEEP else max_runs,
                                        current.max_vcpus if max_vcpus is KEEP else max_vcpus)  # fmt: skip
        except QueueError as error:
            raise UserError(str(error)) from None

    def exec(self, run_id: str, command: str) -> Invocation:
        """Run `command` on the run's instance through SSM Run Command, beside its script, in a fresh shell that has
        read the run's profile (its variables); wait for it. Output past what GetCommandInvocation returns is read
        from S3."""
        ssm, instance_id = self.target.client("ssm"), self.live_instance(run_id, "exec")
        command_id = ""

        def sent() -> bool:
            """SendCommand; False while the instance is still pending (its agent cannot have registered yet)."""
            nonlocal command_id
            try:
                command_id = ssm.send_command(
                    InstanceIds=[instance_id], DocumentName=RUN_SHELL_SCRIPT,
                    Parameters={"commands": [f"{EXEC_PROFILE}\n{command}"]}, OutputS3BucketName=self.stack.bucket,
                    OutputS3KeyPrefix=RunKeys(run_id).key(EXEC_OUTPUT),
                )["Command"]["CommandId"]  # fmt: skip
                return True
            except ClientError as error:
                if error.response["Error"]["Code"] != "InvalidInstanceId" or not self._pending(instance_id):
                    raise
                return False

        try:
            poll_condition(sent, PENDING_SECONDS, 1.0)
        except ClientError:
            raise UserError(self._not_managed(run_id, instance_id)) from None
        if not command_id:
            raise UserError(self._not_managed(run_id, instance_id))
        invocation: dict[str, Any] = {}

        def ended() -> bool:
            nonlocal invocation
            try:
                invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
            except ClientError as error:  # just sent: SSM may not know the invocation yet
                if error.response["Error"]["Code"] != "InvocationDoesNotExist":
                    raise
                return False
            return invocation["Status"] not in ("Pending", "InProgress", "Delayed")

        poll_condition(ended, interval=0.5)
        return Invocation(invocation["ResponseCode"], self._whole(invocation, "StandardOutput", STDOUT_RETURNED),
                          self._whole(invocation, "StandardError", STDERR_RETURNED))  # fmt: skip

    def live_instance(self, run_id: str, verb: str) -> str:
        """The instance of a RUNNING or HOLDING run, which `verb` reaches; else an error that says the status."""
        record = self.record(run_id)
        if record.get("status") not in LIVE or not record.get("instanceId"):
            raise UserError(f"run {run_id} is {record.get('status')}: {verb} reaches a run's instance only while it "
                            f"is {' or '.join(LIVE)}")  # fmt: skip
        return str(record["instanceId"])

    def _pending(self, instance_id: str) -> bool:
        reservations = self.target.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
        return any(i["State"]["Name"] == "pending" for r in reservations for i in r["Instances"])

    def _whole(self, invocation: dict[str, Any], stream: str, returned: int) -> str:
        """The stream's text: as GetCommandInvocation returned it, or (cut there) the whole from S3."""
        text, url = invocation.get(f"{stream}Content", ""), invocation.get(f"{stream}Url", "")
        if len(text) < returned or not url.startswith("s3://"):
            return text
        bucket, key = split_s3_uri(url)
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode(errors="replace")

    def _not_managed(self, run_id: str, instance_id: str) -> str:
        """Why SSM does not manage the instance: what was checked, then what could not be."""
        parameters = self.target.client("cloudformation").describe_stacks(StackName=self.target.stack_name)
        allowed = {p["ParameterKey"]: p.get("ParameterValue") for p in parameters["Stacks"][0].get("Parameters", [])}
        causes = []
        if allowed.get("AllowRunCommandsAndSessions") != "true":
            causes.append("the stack's AllowRunCommandsAndSessions is false, so the instance role lacks what the SSM "
                          "agent needs (deploy with --parameter AllowRunCommandsAndSessions=true)")  # fmt: skip
        causes += ["its subnet reaches neither the internet nor VPC endpoints for ssm, ssmmessages and ec2messages "
                   "(`longtask doctor` checks the route)", "the agent has not registered yet (a minute after boot)",
                   "the image has no SSM agent (Amazon Linux 2023 has one)"]  # fmt: skip
        return (f"instance {instance_id} of run {run_id} is not registered with SSM, so no command can reach it. "
                "Likely: " + "; or ".join(causes))

    def release(self, run_id: str) -> dict[str, Any]:
        """End a HOLDING run's hold now: its instance sees runs/<run id>/release within seconds, reports the script's
        failure and ends."""
        record = self.record(run_id)
        if record.get("status") != HOLDING:
            raise UserError(f"run {run_id} is {record.get('status')}, not HOLDING: it has no hold to release")
        self.s3.put_object(Bucket=self.stack.bucket, Key=RunKeys(run_id).key(RELEASE),
                           Body=f"released at {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n".encode())  # fmt: skip
        return record

    def abort(self, run_id: str) -> dict[str, Any]:
        """Stop the execution, then have the reaper terminate its instance and settle its record."""
        execution = self.execution(run_id)
        if execution["status"] == RUNNING:
            self.stepfunctions.stop_execution(executionArn=execution["executionArn"], error=ERROR_NAMES["ABORTED"],
                                              cause="aborted by the user (longtask abort)")  # fmt: skip
            # StopExecution returns before the stop has settled (the local engine applies it on the execution's
            # own worker): the reaper settles only an execution that has ended
            if not poll_condition(lambda: self.is_final(run_id), STOP_TIMEOUT_SECONDS):
                raise LongTaskError(f"run {run_id} is still RUNNING {STOP_TIMEOUT_SECONDS} s after StopExecution; "
                                    "run `longtask abort` again")  # fmt: skip
        response = self.lambda_.invoke(
            FunctionName=self.stack.reaper_function, Payload=json.dumps({"executionArn": execution["executionArn"]})
        )
        if response.get("FunctionError"):
            raise LongTaskError(f"the reaper failed to settle run {run_id}: {response['Payload'].read().decode()}")
        return self.record(run_id)
