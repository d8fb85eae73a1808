"""template.yaml passes cfn-lint and the SAM transform; the shell scripts pass shellcheck."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from .tools import tool_run, venv_tool

ROOT = Path(__file__).resolve().parents[2]
SHELL_SCRIPTS = sorted(
    p for p in [*ROOT.glob("userdata/**/*.sh"), *ROOT.glob("demo/*.sh"), *ROOT.glob("tests/**/standins/*")]
    if p.is_file()
)  # fmt: skip


def test_cfn_lint_passes() -> None:
    templates = [str(ROOT / "template.yaml"), str(ROOT / "statemachine" / "examples" / "template.yaml")]
    completed = subprocess.run([venv_tool("cfn-lint"), *templates], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize("template", ["template.yaml", "statemachine/examples/template.yaml"])
def test_sam_validate_lint_passes(template: str) -> None:
    # the SAM CLI in a tool environment of its own (it pins much of boto3's world); offline, fake credentials
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "SAM_CLI_TELEMETRY": "0"}  # fmt: skip
    completed = tool_run("aws-sam-cli==1.170.0", "sam", "validate", "--lint", "--template", str(ROOT / template),
                         env=env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "is a valid SAM Template" in completed.stdout + completed.stderr


class _NoManagedPolicies:
    def load(self) -> dict:
        return {}


@pytest.fixture
def transformed(monkeypatch: pytest.MonkeyPatch) -> dict:
    """The template after the SAM transform, offline (what CloudFormation deploys)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in template["Resources"].values():  # as `sam package` leaves it
        for local_folder in ("CodeUri", "DefinitionUri"):
            if local_folder in resource.get("Properties", {}):
                resource["Properties"][local_folder] = "s3://packaged/artifact.zip"
    return json.loads(json.dumps(transform(template, {}, _NoManagedPolicies())))


def test_sam_transform_succeeds(transformed: dict) -> None:
    types = {r["Type"] for r in transformed["Resources"].values()}
    assert {"AWS::StepFunctions::StateMachine", "AWS::Lambda::Function", "AWS::DynamoDB::Table"} <= types


def test_no_policy_allows_every_action(transformed: dict) -> None:
    found = list(_statements(transformed))
    assert len(found) > 10  # every role's statements, not none
    for name, statement in found:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] == "Allow":
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), f"{name}: {actions}"


def test_the_instance_role_writes_only_under_runs(transformed: dict) -> None:
    role = transformed["Resources"]["InstanceRole"]["Properties"]
    statements = [_when_true(s) for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert statements[0] == {
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:GetObject"],
        "Resource": {"Fn::Sub": "${ArtifactBucket.Arn}/runs/*"},
    }
    # it lists only the checkpoint prefixes (aws s3 sync of LONGTASK_CHECKPOINT_DIR)
    assert statements[1]["Action"] == "s3:ListBucket"
    assert statements[1]["Condition"] == {"StringLike": {"s3:prefix": "runs/*/checkpoint/*"}}
    # and, when the stack is given them, reads (never writes) scripts kept elsewhere
    assert [(s["Action"], s["Resource"]) for s in statements[2:]] == [
        ("s3:GetObject", {"Ref": "ScriptReadArns"}), ("kms:Decrypt", {"Ref": "ScriptKmsKeyArns"}),
    ]  # fmt: skip


def test_the_launcher_passes_only_the_instance_role(transformed: dict) -> None:
    passes = [s for n, s in _statements(transformed) if "iam:PassRole" in _actions(s)]
    assert passes and all(s["Resource"] == {"Fn::GetAtt": ["InstanceRole", "Arn"]} for s in passes)


def test_run_instances_needs_the_stack_tag_and_the_stacks_instance_profile(transformed: dict) -> None:
    runs = [s for _, s in _statements(transformed) if "ec2:RunInstances" in _actions(s)]
    on_instances = [s for s in runs if "instance/*" in json.dumps(s["Resource"])]
    on_volumes = [s for s in runs if "volume/*" in json.dumps(s["Resource"])]
    tag = {"aws:RequestTag/longtask:stack": {"Ref": "AWS::StackName"}}
    assert [s["Condition"] for s in on_instances] == [
        {"StringEquals": {**tag, "ec2:InstanceProfile": {"Fn::GetAtt": ["InstanceProfile", "Arn"]}}}
    ]
    assert [s["Condition"] for s in on_volumes] == [{"StringEquals": tag}]
    untagged = [s for s in runs if s not in on_instances + on_volumes]
    assert all("Condition" not in s and "instance/*" not in json.dumps(s) for s in untagged)


def test_termination_is_limited_to_this_stacks_instances(transformed: dict) -> None:
    terminations = [s for _, s in _statements(transformed) if "ec2:TerminateInstances" in _actions(s)]
    assert terminations
    for statement in terminations:
        assert statement["Condition"] == {"StringEquals": {"ec2:ResourceTag/longtask:stack": {"Ref": "AWS::StackName"}}}


def test_the_image_parameter_is_resolved_at_each_launch(transformed: dict) -> None:
    """Not at deploy (an AWS::SSM::Parameter::Value would freeze "the latest" AMI): RunInstances resolves it."""
    variables = transformed["Resources"]["LauncherFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["DEFAULT_IMAGE_ID"] == {
        "Fn::If": ["ImageIsParameter", {"Fn::Sub": "resolve:ssm:${ImageId}"}, {"Ref": "ImageId"}]
    }
    assert transformed["Parameters"]["ImageId"]["Type"] == "String"


def test_the_reaper_reserves_no_concurrency_by_default(transformed: dict) -> None:
    # any reservation fails the deploy where the account's concurrency limit is 10 (Lambda, "Reserved concurrency")
    reaper = transformed["Resources"]["ReaperFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reaper == {"Fn::If": ["HasReaperConcurrency", {"Ref": "ReaperReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    assert transformed["Conditions"]["HasReaperConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ReaperReservedConcurrency"}, -1]}]
    }
    assert transformed["Parameters"]["ReaperReservedConcurrency"]["Default"] == -1


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [("", True), ("scripts/", True), ("jobs/nightly-", True), ("runsheet/", True),
     ("runs/", False), ("runs/x/", False), ("runs", False), ("r", False), ("run", False)],
)  # fmt: skip
def test_an_upload_prefix_overlapping_runs_is_refused(transformed: dict, prefix: str, allowed: bool) -> None:
    """Every log upload under runs/ would start a run. CloudFormation's AllowedPattern is a Java regular
    expression; this one uses only what Java and Python share (alternation, a negative lookahead)."""
    import re

    pattern = transformed["Parameters"]["ScriptUploadPrefix"]["AllowedPattern"]
    assert (re.fullmatch(pattern, prefix) is not None) is allowed


def test_a_missing_result_is_told_from_a_forbidden_one(transformed: dict) -> None:
    lists = [s for n, s in _statements(transformed) if n == "OutcomeFunctionRole" and "s3:ListBucket" in _actions(s)]
    assert lists == [{
        "Sid": "TellMissingResultFromForbidden", "Effect": "Allow", "Action": "s3:ListBucket",
        "Resource": {"Fn::GetAtt": ["ArtifactBucket", "Arn"]}, "Condition": {"StringLike": {"s3:prefix": "runs/*"}},
    }]  # fmt: skip


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck_passes(script: Path) -> None:
    completed = subprocess.run([venv_tool("shellcheck"), "--shell=bash", str(script)], capture_output=True, text=True,
                               env={**os.environ})  # fmt: skip
    assert completed.returncode == 0, completed.stdout


def _statements(template: dict) -> list[tuple[str, dict]]:
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                found += [(name, s) for s in map(_when_true, policy["PolicyDocument"]["Statement"]) if s]
    return found


def _when_true(statement: dict) -> dict | None:
    """A statement behind a condition (Fn::If) as it is when the condition holds."""
    if "Fn::If" in statement:
        _, when_true, _ = statement["Fn::If"]
        return when_true if when_true != {"Ref": "AWS::NoValue"} else None
    return statement


def _actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
