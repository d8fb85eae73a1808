"""Nested in a user's own workflow, as strict as AWS: the managed rule a `.sync` parent needs, the documented
parent policy, and a stopped parent stopping its run (and a stopped run its watcher)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .engine_session import ROOT
from .support import live_instances, wait_until_running, watchers_running

RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"
NESTED = ROOT / "statemachine" / "examples" / "nested.asl.json"


def documented_policy(client: LongTaskClient) -> dict[str, Any]:
    """The parent policy of docs/workflows.md, its placeholders filled in for the test stack."""
    text = (ROOT / "docs" / "workflows.md").read_text()
    block = re.search(r"\*\*The parent's policy\.\*\*.*?```json\n(.*?)```", text, re.S)
    assert block, "docs/workflows.md has no parent policy"
    arn = client.stack.state_machine_arn
    _, _, _, region, account, _, name = arn.split(":")
    filled = block[1].replace("<StateMachineArn>", arn).replace("<StateMachineName>", name)
    return json.loads(filled.replace("<region>", region).replace("<account>", account))


@pytest.fixture
def parent_role(client: LongTaskClient) -> Iterator[Any]:
    """Make a role Step Functions may assume, with the given policy; deleted afterwards."""
    iam, made = client.target.client("iam"), []

    def make(policy: dict[str, Any]) -> str:
        name = f"longtask-it-parent-{secrets.token_hex(4)}"
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                          "Principal": {"Service": "states.amazonaws.com"}}]}
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="parent", PolicyDocument=json.dumps(policy))
        made.append(name)
        return arn

    yield make
    for name in made:
        iam.delete_role_policy(RoleName=name, PolicyName="parent")
        iam.delete_role(RoleName=name)


def create_parent(client: LongTaskClient, role_arn: str) -> str:
    definition = NESTED.read_text().replace("${LongTaskStateMachineArn}", client.stack.state_machine_arn)
    return client.stepfunctions.create_state_machine(name=f"longtask-it-parent-{secrets.token_hex(4)}",
                                                     definition=definition, roleArn=role_arn)["stateMachineArn"]


def without_events(policy: dict[str, Any]) -> dict[str, Any]:
    return {**policy, "Statement": [s for s in policy["Statement"] if not str(s["Action"]).count("events:")]}


def test_a_parent_without_the_managed_rule_permissions_is_refused(client: LongTaskClient, parent_role: Any) -> None:
    role = parent_role(without_events(documented_policy(client)))
    with pytest.raises(ClientError) as refused:
        create_parent(client, role)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.response["Error"]["Message"] == f"'{role}' is not authorized to create managed-rule."


def test_the_documented_parent_policy_runs_a_child_and_catches_its_failure(client: LongTaskClient,
                                                                           parent_role: Any) -> None:
    parent = create_parent(client, parent_role(documented_policy(client)))
    rule = client.target.client("events").describe_rule(Name=RULE)
    assert rule["ManagedBy"] == "states.amazonaws.com" and rule["State"] == "ENABLED"
    assert RULE in [r["Name"] for r in client.target.client("events").list_rules(NamePrefix=RULE)["Rules"]]
    outputs = {}
    for script in ("echo from a parent", "echo failing child\nexit 3\n"):
        arn = client.stepfunctions.start_execution(stateMachineArn=parent, input=json.dumps({"script": script}))[
            "executionArn"]  # fmt: skip
        assert poll_condition(lambda arn=arn: client.stepfunctions.describe_execution(executionArn=arn)["status"]
                              != "RUNNING", timeout=90)  # fmt: skip
        outputs[script] = json.loads(client.stepfunctions.describe_execution(executionArn=arn)["output"])
    assert outputs["echo from a parent"]["handled"] == "SUCCEEDED"
    failed = outputs["echo failing child\nexit 3\n"]
    assert (failed["handled"], failed["exitCode"]) == ("LongTask.ScriptFailed", 3), failed


def child_run(client: LongTaskClient, parent_arn: str) -> str | None:
    """The run a parent execution started (its execution name)."""
    for event in client.stepfunctions.get_execution_history(executionArn=parent_arn)["events"]:
        submitted = event.get("taskSubmittedEventDetails")
        if submitted:
            return json.loads(submitted["output"])["ExecutionArn"].rsplit(":", 1)[1]
    return None


def test_stopping_the_parent_stops_its_run_and_ends_the_instance(client: LongTaskClient, parent_role: Any) -> None:
    parent = create_parent(client, parent_role(documented_policy(client)))
    arn = client.stepfunctions.start_execution(stateMachineArn=parent,
                                               input=json.dumps({"script": "echo started\nsleep 120"}))["executionArn"]
    assert poll_condition(lambda: child_run(client, arn), timeout=30)
    run_id = child_run(client, arn) or ""
    wait_until_running(client, run_id)
    client.stepfunctions.stop_execution(executionArn=arn)
    assert poll_condition(lambda: client.execution(run_id)["status"] != "RUNNING", timeout=20)
    assert client.execution(run_id)["status"] == "ABORTED"
    assert poll_condition(lambda: live_instances(client, run_id) == [] and not watchers_running(client, run_id),
                          timeout=30)  # fmt: skip
    assert client.wait(run_id)["status"] == "ABORTED"


def test_after_abort_no_watcher_child_runs(client: LongTaskClient, longtask: Any) -> None:
    run_id = client.start({"script": "echo started\nsleep 120"})
    wait_until_running(client, run_id)
    assert poll_condition(lambda: watchers_running(client, run_id), timeout=20)
    aborted = longtask("abort", run_id)
    assert aborted.exit_code == 0, aborted.stderr
    assert poll_condition(lambda: not watchers_running(client, run_id), timeout=20), watchers_running(client, run_id)
    assert live_instances(client, run_id) == []
