"""The ASL files: valid (statelint), every substitution wired, every Task guarded by Retry and Catch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from longtask.template_file import load_template

ROOT = Path(__file__).resolve().parents[2]
ASL_FILES = sorted((ROOT / "statemachine").rglob("*.asl.json"))
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


TEMPLATES = [ROOT / "template.yaml", ROOT / "statemachine" / "examples" / "template.yaml"]


def state_machines() -> dict[Path, dict[str, Any]]:
    """Each ASL file with the properties of the template resource that deploys it."""
    found = {}
    for template in TEMPLATES:
        for resource in load_template(template)["Resources"].values():
            if resource["Type"] == "AWS::Serverless::StateMachine":
                found[template.parent / resource["Properties"]["DefinitionUri"]] = resource["Properties"]
    return found


def test_every_asl_file_is_deployed() -> None:
    assert set(state_machines()) == set(ASL_FILES)


def all_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    states = dict(definition["States"])
    for state in definition["States"].values():
        for branch in [*state.get("Branches", []), *filter(None, [state.get("ItemProcessor")])]:
            states.update(all_states(branch))
    return states


def test_there_are_state_machines() -> None:
    assert ROOT / "statemachine" / "longtask.asl.json" in ASL_FILES


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_statelint_passes(asl: Path, tmp_path: Path) -> None:
    # statelint wants ARNs where the template substitutes them: fill each placeholder with a sample ARN
    text = PLACEHOLDER.sub(lambda m: f"arn:aws:lambda:us-east-1:123456789012:function:{m.group(1)}", asl.read_text())
    filled = tmp_path / asl.name
    filled.write_text(text)
    statelint = Path(sys.executable).with_name("statelint")
    completed = subprocess.run([str(statelint), str(filled)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_every_placeholder_has_a_substitution_and_back(asl: Path) -> None:
    properties = state_machines()[asl]
    assert set(PLACEHOLDER.findall(asl.read_text())) == set(properties.get("DefinitionSubstitutions", {}))


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_every_task_retries_and_catches(asl: Path) -> None:
    tasks = {name: state for name, state in all_states(json.loads(asl.read_text())).items() if state["Type"] == "Task"}
    assert tasks, f"{asl.name} has no Task"
    for name, state in tasks.items():
        assert state.get("Retry"), f"{name} has no Retry"
        assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), f"{name} catches not all"


# The service names of AWS SDK integrations' errors: PascalCase, as the AWS SDK for Java names the service
# (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html)
SDK_ERROR_SERVICES = {"dynamodb": "DynamoDb", "ec2": "Ec2", "s3": "S3", "sfn": "Sfn", "lambda": "Lambda"}
SDK_TASK = re.compile(r"^arn:aws:states:::aws-sdk:(\w+):\w+")


def sdk_error_names(service: str) -> set[str]:
    """What an AWS SDK integration of the service can fail with: `<Service>.<Error>` for each error of botocore's
    model, always with the Exception suffix (even where the API reference has none, as RequestLimitExceeded), and
    the SDK's base exception `<Service>.<Service>Exception` (EC2's model has no errors: that is its only one)."""
    import botocore.session

    prefix = SDK_ERROR_SERVICES[service]
    shapes = botocore.session.get_session().get_service_model(service).error_shapes
    names = {shape.name if shape.name.endswith("Exception") else f"{shape.name}Exception" for shape in shapes}
    return {f"{prefix}.{name}" for name in names} | {f"{prefix}.{prefix}Exception"}


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_every_error_an_sdk_task_names_is_one_it_can_raise(asl: Path) -> None:
    checked = 0
    for name, state in all_states(json.loads(asl.read_text())).items():
        sdk = SDK_TASK.match(str(state.get("Resource", "")))
        if state["Type"] != "Task" or not sdk:
            continue
        known = sdk_error_names(sdk.group(1))
        for rule in [*state.get("Retry", []), *state.get("Catch", [])]:
            for error in rule["ErrorEquals"]:
                checked += 1
                assert error.startswith("States.") or error in known, f"{name}: {error} is never raised"
    assert checked or "aws-sdk:" not in asl.read_text()


def test_a_misnamed_sdk_error_is_found() -> None:
    known = sdk_error_names("dynamodb")
    assert "DynamoDb.RequestLimitExceededException" in known and "DynamoDb.ThrottlingException" in known
    assert "DynamoDb.RequestLimitExceeded" not in known and "Ec2.RequestLimitExceeded" not in sdk_error_names("ec2")
