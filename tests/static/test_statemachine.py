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
    for name, state in all_states(json.loads(asl.read_text())).items():
        if state["Type"] == "Task":
            assert state.get("Retry"), f"{name} has no Retry"
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), f"{name} catches not all"
