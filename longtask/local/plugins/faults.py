"""A test-only fault plan for the local engine's EC2: AWS errors that LocalStack cannot produce itself.

Tests write rules to the plan file; the local EC2 provider (ec2_provider.py) applies them at the API
boundary, so the functions' production code meets them exactly as it would meet AWS's. A rule:

    {"operation": "RunInstances", "code": "InsufficientInstanceCapacity", "status": 400,
     "instanceType": "t3a.nano", "spot": false, "times": 1, "when": "before"}

`instanceType`/`spot` narrow which requests match; `times` counts down (absent: every time); `when`
is "before" (the request fails, nothing happens) or "after" (the request takes effect but its
response is lost, as on a dropped connection). Standard library only: it runs inside LocalStack.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PLAN_ENV = "LONGTASK_FAULTS_FILE"


def plan_file() -> Path | None:
    path = os.environ.get(PLAN_ENV)
    return Path(path) if path else None


@contextmanager
def _locked(path: Path):
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def write_plan(path: Path, rules: list[dict[str, Any]]) -> None:
    """Replace the plan (an empty list clears it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        path.write_text(json.dumps(rules))


def take(operation: str, when: str, request: dict[str, Any]) -> dict[str, Any] | None:
    """The first rule matching this request, counted down; None when no fault applies."""
    path = plan_file()
    if path is None or not path.exists():
        return None
    with _locked(path):
        rules = json.loads(path.read_text() or "[]")
        for rule in rules:
            if _matches(rule, operation, when, request):
                if "times" in rule:
                    rule["times"] -= 1
                path.write_text(json.dumps(rules))
                return rule
    return None


def _matches(rule: dict[str, Any], operation: str, when: str, request: dict[str, Any]) -> bool:
    spot = (request.get("InstanceMarketOptions") or {}).get("MarketType") == "spot"
    return (
        rule.get("operation") == operation
        and rule.get("when", "before") == when
        and rule.get("times", 1) > 0
        and rule.get("instanceType", request.get("InstanceType")) == request.get("InstanceType")
        and rule.get("spot", spot) == spot
    )
