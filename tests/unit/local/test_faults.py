"""The engine's fault plan: which requests a rule matches, and how it counts down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from longtask_engine.in_localstack.plugins import faults


def launch(run_id: str | None, instance_type: str = "t3a.nano") -> dict[str, Any]:
    """A RunInstances request as the launcher makes it, tagged with its run id."""
    tags = [{"Key": "longtask:stack", "Value": "s"}] + ([{"Key": faults.RUN_ID_TAG, "Value": run_id}] if run_id else [])
    specifications = [{"ResourceType": "volume", "Tags": []}, {"ResourceType": "instance", "Tags": tags}]
    return {"InstanceType": instance_type, "TagSpecifications": specifications}


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "faults.json"
    monkeypatch.setenv(faults.PLAN_ENV, str(path))
    return path


def test_the_run_id_is_the_instance_tag() -> None:
    assert faults.run_id_of(launch("run-1")) == "run-1"
    assert faults.run_id_of(launch(None)) is None
    assert faults.run_id_of({}) is None


def test_a_rule_with_a_run_id_meets_only_that_runs_requests(plan: Path) -> None:
    faults.add_rules(plan, [{"operation": "RunInstances", "code": "InsufficientInstanceCapacity", "runId": "run-1"}])
    for other in ("run-2", None):
        assert faults.take("RunInstances", "before", launch(other), faults.run_id_of(launch(other))) is None
    rule = faults.take("RunInstances", "before", launch("run-1"), "run-1")
    assert rule and rule["code"] == "InsufficientInstanceCapacity"


def test_a_rule_without_a_run_id_meets_every_run_and_counts_down(plan: Path) -> None:
    faults.add_rules(plan, [{"operation": "StateChangeNotification", "times": 2}])
    assert faults.take("StateChangeNotification", "before", {}, "run-1")
    assert faults.take("StateChangeNotification", "before", {}, None)
    assert faults.take("StateChangeNotification", "before", {}, "run-1") is None  # both times taken
    assert faults.take("RunInstances", "before", launch("run-1"), "run-1") is None  # another operation


def test_type_spot_and_when_narrow_a_rule(plan: Path) -> None:
    faults.add_rules(plan, [{"operation": "RunInstances", "instanceType": "t3a.nano", "spot": False, "when": "after"}])
    assert faults.take("RunInstances", "before", launch("r"), "r") is None
    assert faults.take("RunInstances", "after", launch("r", "t3.nano"), "r") is None
    spot = {**launch("r"), "InstanceMarketOptions": {"MarketType": "spot"}}
    assert faults.take("RunInstances", "after", spot, "r") is None
    assert faults.take("RunInstances", "after", launch("r"), "r")


def test_a_runs_rules_are_removed_and_the_others_kept(plan: Path) -> None:
    faults.add_rules(plan, [{"operation": "RunInstances", "runId": "run-1"}, {"operation": "RunInstances"}])
    faults.add_rules(plan, [{"operation": "RunInstances", "runId": "run-2"}])
    faults.remove_rules(plan, "run-1")
    assert faults.take("RunInstances", "before", launch("run-1"), "run-1") == {"operation": "RunInstances"}
    assert faults.take("RunInstances", "before", launch("run-2"), "run-2") == {"operation": "RunInstances"}  # first
    faults.remove_rules(plan, "run-2")
    assert json.loads(plan.read_text()) == [{"operation": "RunInstances"}]


def test_without_a_plan_no_fault_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(faults.PLAN_ENV, raising=False)
    assert faults.take("RunInstances", "before", launch("r"), "r") is None
