"""The ways the workflow is started: EventBridge (an uploaded script, a schedule) and parent workflows."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .engine_session import EXAMPLES_STACK, PARAMETERS, STACK
from .support import run_started_for, stack_output


def finished(client: LongTaskClient, execution_arn: str) -> dict[str, Any]:
    assert poll_condition(
        lambda: client.stepfunctions.describe_execution(executionArn=execution_arn)["status"] != "RUNNING",
        timeout=120, interval=1,
    )  # fmt: skip
    return client.stepfunctions.describe_execution(executionArn=execution_arn)


def start(client: LongTaskClient, output: str, run_input: dict[str, Any]) -> dict[str, Any]:
    """Run one of the example workflows (statemachine/examples/template.yaml) to its end."""
    arn = client.stepfunctions.start_execution(
        stateMachineArn=stack_output(client, output, EXAMPLES_STACK), input=json.dumps(run_input)
    )["executionArn"]
    return finished(client, arn)


def test_a_script_uploaded_under_the_prefix_starts_a_run(client: LongTaskClient) -> None:
    key = f"{PARAMETERS['ScriptUploadPrefix']}job-{secrets.token_hex(4)}.sh"
    uploaded = datetime.now(UTC)
    client.s3.put_object(Bucket=client.stack.bucket, Key=key, Body=b"echo started by an upload\n")
    uri = f"s3://{client.stack.bucket}/{key}"
    assert poll_condition(lambda: run_started_for(client, uri, uploaded) is not None, timeout=30, interval=1)
    record = client.wait(run_started_for(client, uri, uploaded)["name"])
    assert record["status"] == "SUCCEEDED"
    assert "started by an upload" in record["logTail"]


def test_the_schedule_rule_targets_the_workflow_with_its_input(client: LongTaskClient) -> None:
    events = client.target.client("events")
    (rule,) = [r for r in events.list_rules(NamePrefix=f"{STACK}-ScheduledRun")["Rules"]]
    assert rule["ScheduleExpression"] == PARAMETERS["ScheduleExpression"]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == client.stack.state_machine_arn
    assert json.loads(target["Input"]) == json.loads(PARAMETERS["ScheduleInput"])
    assert target["RoleArn"].split("/")[-1].startswith(f"{STACK}-StartRunRole")


def test_a_parent_workflow_gets_the_record_of_a_child_that_succeeds(client: LongTaskClient) -> None:
    execution = start(client, "NestedExampleStateMachineArn", {"script": "echo from a parent"})
    output = json.loads(execution["output"])
    assert (execution["status"], output["handled"], output["exitCode"]) == ("SUCCEEDED", "SUCCEEDED", 0)


def test_a_failing_child_reaches_the_parent_with_its_error_and_exit_code(client: LongTaskClient) -> None:
    execution = start(client, "NestedExampleStateMachineArn", {"script": "echo failing child\nexit 3\n"})
    output = json.loads(execution["output"])
    assert (output["handled"], output["exitCode"]) == ("LongTask.ScriptFailed", 3)
    assert client.item(output["runId"])["status"] == "FAILED"


def test_fan_out_runs_every_script_and_summarises(client: LongTaskClient) -> None:
    scripts = ["echo a", "exit 4", "echo c", "exit 5", "echo e", "echo f"]
    execution = start(client, "FanOutExampleStateMachineArn", {"runs": [{"script": s} for s in scripts]})
    summary = json.loads(execution["output"])
    assert execution["status"] == "SUCCEEDED"
    assert (summary["succeededCount"], summary["failedCount"]) == (4, 2)
    assert [run["exitCode"] for run in summary["runs"]] == [0, 4, 0, 5, 0, 0]
    assert set(summary["failed"]) == {summary["runs"][1]["runId"], summary["runs"][3]["runId"]}
