"""What the integration tests share besides fixtures: the stack's outputs, its executions and instances, and
how a run is waited for, found and ended."""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .engine_session import STACK


def default_image(client: LongTaskClient) -> str:
    """The image the stack launches (the latest Amazon Linux 2023, from its public SSM parameter)."""
    name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    return client.target.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]


def stack_output(client: LongTaskClient, name: str, stack_name: str = STACK) -> str:
    stack = client.target.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == name)


def executions(client: LongTaskClient, state_machine_arn: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """The state machine's executions, newest first, every page (with tests side by side, more than one); only
    those started at or after `since`, if given."""
    found = []
    for page in client.stepfunctions.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        for execution in page["executions"]:
            if since and execution["startDate"] < since:
                return found
            found.append(execution)
    return found


def run_started_for(client: LongTaskClient, script_uri: str, since: datetime) -> dict[str, Any] | None:
    """The execution (described) that an upload of the script at `since` started, if any."""
    for execution in executions(client, client.stack.state_machine_arn, since - timedelta(seconds=1)):
        described = client.stepfunctions.describe_execution(executionArn=execution["executionArn"])
        if json.loads(described["input"]).get("scriptS3Uri") == script_uri:
            return described
    return None


def instances_of(client: LongTaskClient, run_id: str) -> list[dict[str, Any]]:
    """Every instance launched for the run, with its state."""
    run_tag = {"Name": "tag:longtask:run-id", "Values": [run_id]}
    reservations = client.target.client("ec2").describe_instances(Filters=[run_tag])
    return [instance for r in reservations["Reservations"] for instance in r["Instances"]]


def terminate_as(client: LongTaskClient, instance_id: str, state_reason: str | None = None) -> None:
    """TerminateInstances; state_reason makes EC2 record why (the local engine's ec2_provider.py)."""
    ec2 = client.target.client("ec2")
    if state_reason:
        ec2.meta.events.register(
            "before-sign.ec2.TerminateInstances",
            lambda request, **_: request.headers.__setitem__("x-longtask-state-reason", state_reason),
        )
    ec2.terminate_instances(InstanceIds=[instance_id])


def live_instances(client: LongTaskClient, run_id: str) -> list[str]:
    return [i["InstanceId"] for i in instances_of(client, run_id) if i["State"]["Name"] in ("pending", "running")]


def assert_final(client: LongTaskClient, run_id: str, status: str) -> dict[str, Any]:
    """The run ended in `status`: execution over, Runs item final, no instance of it alive."""
    record = client.wait(run_id)
    assert record["status"] == status, record
    assert client.item(run_id)["status"] == status
    assert poll_condition(lambda: live_instances(client, run_id) == [], timeout=20)
    return record


def wait_until_running(client: LongTaskClient, run_id: str) -> dict[str, Any]:
    assert poll_condition(lambda: b"started" in client.log_since(run_id, 0), timeout=60)
    return client.item(run_id)


def invoke_function(client: LongTaskClient, output: str, event: dict[str, Any]) -> dict[str, Any]:
    """Invoke the stack's function named by that output with the event; its answer (it must not fail)."""
    response = client.target.client("lambda").invoke(
        FunctionName=stack_output(client, output), Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


@contextmanager
def rules_without_targets(client: LongTaskClient, function: str, stack: str = STACK) -> Iterator[None]:
    """The stack's EventBridge rules that invoke a function (by its logical id), without their targets for a
    while: as if every event they would deliver were lost."""
    events = client.target.client("events")
    names = [rule["Name"] for rule in events.list_rules(NamePrefix=f"{stack}-")["Rules"] if function in rule["Name"]]
    targets = {name: events.list_targets_by_rule(Rule=name)["Targets"] for name in names}
    assert names and all(targets.values())
    for name, rule_targets in targets.items():
        events.remove_targets(Rule=name, Ids=[target["Id"] for target in rule_targets])
    try:
        yield
    finally:
        for name, rule_targets in targets.items():
            events.put_targets(Rule=name, Targets=rule_targets)


def watchers_running(client: LongTaskClient, run_id: str) -> list[str]:
    """The run's watcher children still running (each watches one window of it)."""
    watcher = stack_output(client, "WatcherStateMachineArn")
    return [e["name"] for e in executions(client, watcher) if e["name"].startswith(run_id)
            and e["status"] == "RUNNING"]  # fmt: skip


@contextmanager
def run_events_of(client: LongTaskClient, detail_type: str) -> Iterator[Callable[[str, int], list[dict[str, Any]]]]:
    """events_of(run_id, n): the details of the run's first n events of this type, as they came (a user's own
    rule to an SQS queue picks them up from the default bus)."""
    sqs, events = client.target.client("sqs"), client.target.client("events")
    rule = f"{STACK}-run-events-{secrets.token_hex(4)}"  # one per xdist worker that runs these tests
    queue_url = sqs.create_queue(QueueName=rule)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["longtask"], "detail-type": [detail_type]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
    received: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def events_of(run_id: str, count: int) -> list[dict[str, Any]]:
        def arrived() -> bool:
            for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
                event = json.loads(message["Body"])
                assert (event["source"], event["detail-type"]) == ("longtask", detail_type)
                received[event["detail"]["runId"]].append(event["detail"])
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            return len(received[run_id]) >= count

        assert poll_condition(arrived, timeout=30), received[run_id]
        return received[run_id]

    try:
        yield events_of
    finally:
        events.remove_targets(Rule=rule, Ids=["queue"])
        events.delete_rule(Name=rule)
        sqs.delete_queue(QueueUrl=queue_url)
