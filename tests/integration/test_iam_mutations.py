"""Mutation tests of the stack's permissions: take one statement away from a live role and a named scenario
fails on the local engine with AWS's error; put it back and it works again. Each proves that the statement is
needed and that the engine enforces it.

The statement is removed with PutRolePolicy and restored afterwards, so no redeploy is needed. The roles are
those of a stack of their own, so that a role without a statement fails no other test's run: these tests run one
after another (each takes a statement away), beside the others.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from longtask_engine.host import engine
from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .engine_session import IAM_STACK, PARAMETERS
from .support import run_started_for, stack_output

pytestmark = pytest.mark.in_turn  # each takes a statement away from a role of their stack


@pytest.fixture(scope="module")
def client(client: LongTaskClient) -> LongTaskClient:
    """Here, the client of the stack whose roles these tests change: the test stack's template and parameters,
    deployed on the session's engine once (the session's end looks at its runs too, engine_session.leaks)."""
    return engine.connect(IAM_STACK, PARAMETERS, EnginePaths.default())


@contextmanager
def without_statement(client: LongTaskClient, role_logical_id: str, sid: str) -> Iterator[str]:
    """The role's inline policy holding statement `sid`, without it, for the duration of the block; gives the role's
    name."""
    iam = client.target.client("iam")
    role = client.target.client("cloudformation").describe_stack_resource(
        StackName=client.target.stack_name, LogicalResourceId=role_logical_id
    )["StackResourceDetail"]["PhysicalResourceId"]
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        kept = [s for s in statements if s.get("Sid", name) != sid]
        if len(kept) < len(statements):
            break
    else:
        raise AssertionError(f"no statement {sid} in the policies of {role_logical_id}")
    narrowed = {**document, "Statement": kept or [{"Effect": "Deny", "Action": "none:None", "Resource": "*"}]}
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(narrowed))
    try:
        yield role
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def test_launcher_without_pass_role_cannot_launch(client: LongTaskClient) -> None:
    with without_statement(client, "LauncherFunctionRole", "PassOnlyTheInstanceRole"):
        record = client.wait(client.start({"script": "echo hi"}))
    assert record["status"] == "LAUNCH_FAILED"
    assert "UnauthorizedOperation" in record["reason"] and "iam:PassRole" in record["reason"]
    assert client.wait(client.start({"script": "echo hi"}))["status"] == "SUCCEEDED"


def test_outcome_without_describe_instances_cannot_collect(client: LongTaskClient) -> None:
    with without_statement(client, "OutcomeFunctionRole", "DescribeRunInstance"):
        run_id = client.start({"script": "echo hi"})
        client.wait(run_id)
    execution = client.execution(run_id)
    assert execution["error"] == "LongTask.NoResult"
    assert "UnauthorizedOperation" in execution["cause"] and "ec2:DescribeInstances" in execution["cause"]
    assert client.record(run_id)["status"] == "NO_RESULT"  # the record the execution's cause carries
    # the workflow could not build a record to write: the reaper writes it, on the execution's FAILED event
    assert poll_condition(lambda: client.item(run_id)["status"] == "NO_RESULT", timeout=30)


def test_reaper_without_query_cannot_find_running_runs(client: LongTaskClient) -> None:
    function = client.target.client("lambda")
    with without_statement(client, "ReaperFunctionRole", "FindRunningRuns"):
        response = function.invoke(FunctionName=stack_output(client, "ReaperFunctionName", IAM_STACK), Payload=b"{}")
        payload = json.loads(response["Payload"].read())
    assert response.get("FunctionError") and "AccessDeniedException" in json.dumps(payload)
    assert "dynamodb:Query" in payload["errorMessage"]


def test_state_machine_without_invoking_the_launcher_launches_nothing(client: LongTaskClient) -> None:
    # the statement SAM's LambdaInvokePolicy writes for the launcher (no Sid: named after its policy)
    with without_statement(client, "LongTaskStateMachineRole", "LongTaskStateMachineRolePolicy0"):
        run_id = client.start({"script": "echo hi"})
        record = client.wait(run_id)
    assert record["status"] == "LAUNCH_FAILED" and "AccessDeniedException" in record["reason"], record
    assert "lambda:InvokeFunction" in record["reason"] and record.get("instanceId") is None


def test_instance_without_its_outputs_policy_cannot_report(client: LongTaskClient) -> None:
    with without_statement(client, "InstanceRole", "RunOutputs"):
        record = client.wait(client.start({"script": "echo hi"}))
    assert record["status"] == "NO_RESULT" and "without writing result.json" in record["reason"]


def test_rule_role_without_start_runs_starts_nothing(client: LongTaskClient) -> None:
    since = datetime.now(UTC)

    def upload() -> str:
        key = f"{PARAMETERS['ScriptUploadPrefix']}mutation-{secrets.token_hex(4)}.sh"
        client.s3.put_object(Bucket=client.stack.bucket, Key=key, Body=b"echo uploaded\n")
        return f"s3://{client.stack.bucket}/{key}"

    def started(uri: str) -> str | None:
        """The name of the run the upload started, if any."""
        return (run_started_for(client, uri, since) or {}).get("name")

    with without_statement(client, "StartRunRole", "StartRuns") as role:
        denied = upload()
        assert _refusal_logged("states:StartExecution", role)
    assert started(denied) is None
    allowed = upload()  # the statement back: an upload starts a run again
    assert poll_condition(lambda: started(allowed) is not None, timeout=30, interval=1)
    assert client.wait(started(allowed))["status"] == "SUCCEEDED"


def _refusal_logged(action: str, role: str) -> bool:
    """Wait until the engine has decided (and refused) the rule target's call."""
    log = EnginePaths.default().iam_decisions

    def refused() -> Any:
        lines = log.read_text().splitlines() if log.exists() else []
        return any((d := json.loads(line))["action"] == action and role in d["principal"] and not d["allowed"]
                   for line in lines)  # fmt: skip

    return poll_condition(refused, timeout=30, interval=1)


def test_a_rule_without_its_lambda_permission_cannot_invoke_the_reaper(client: LongTaskClient) -> None:
    """A rule target without a RoleArn is decided by the function's resource policy (its Lambda permission)."""
    functions = client.target.client("lambda")
    reaper = stack_output(client, "ReaperFunctionName", IAM_STACK)
    events = client.target.client("events")
    (rule_arn,) = [rule["Arn"] for rule in events.list_rules(NamePrefix=f"{IAM_STACK}-")["Rules"]
                   if "Execution Status Change" in rule.get("EventPattern", "")]  # fmt: skip
    policy = json.loads(functions.get_policy(FunctionName=reaper)["Policy"])
    (permission,) = [s for s in policy["Statement"] if s["Condition"]["ArnLike"]["AWS:SourceArn"] == rule_arn]

    def stop_a_run() -> str:
        run_id = client.start({"script": "echo started\nsleep 300\n"})
        assert poll_condition(lambda: (client.item(run_id) or {}).get("status") == "RUNNING", timeout=60)
        client.stepfunctions.stop_execution(executionArn=client.execution_arn(run_id))
        return run_id

    functions.remove_permission(FunctionName=reaper, StatementId=permission["Sid"])
    try:
        since = _log_size()
        denied_run = stop_a_run()
        assert _decision(since, "lambda:InvokeFunction", "events.amazonaws.com", reaper, allowed=False)
    finally:
        functions.add_permission(FunctionName=reaper, StatementId=permission["Sid"], Action="lambda:InvokeFunction",
                                 Principal="events.amazonaws.com", SourceArn=rule_arn)  # fmt: skip
    since = _log_size()
    allowed_run = stop_a_run()
    assert _decision(since, "lambda:InvokeFunction", "events.amazonaws.com", reaper, allowed=True)
    for run_id in (denied_run, allowed_run):  # the sweep ends what the refused event left running
        functions.invoke(FunctionName=reaper, Payload=b"{}")
        assert poll_condition(lambda r=run_id: client.item(r)["status"] == "ABORTED", timeout=30)


def _log_size() -> int:
    log = EnginePaths.default().iam_decisions
    return log.stat().st_size if log.exists() else 0


def _decision(since: int, action: str, principal: str, function: str, allowed: bool) -> bool:
    """Wait until the engine has decided, after byte `since` of its decision log, a call of `principal` on
    `function` (the signal function's rules invoke it as events.amazonaws.com too)."""
    log = EnginePaths.default().iam_decisions

    def decided() -> bool:
        with log.open() as lines:
            lines.seek(since)
            return any((d := json.loads(line))["action"] == action and d["principal"] == principal
                       and d["resource"].endswith(f":function:{function}") and d["allowed"] is allowed
                       for line in lines)  # fmt: skip

    return poll_condition(decided, timeout=30, interval=1)
