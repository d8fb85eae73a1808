"""A test-only fault plan for the local engine's EC2: AWS errors that LocalStack cannot produce itself.

Tests write rules to the plan file; the local EC2 provider (ec2_provider.py) applies them at the API
boundary, so the functions' production code meets them exactly as it would meet AWS's. A rule:

    {"operation": "RunInstances", "code": "InsufficientInstanceCapacity", "status": 400,
     "runId": "it-3f2a…", "instanceType": "t3a.nano", "spot": false, "times": 1, "when": "before"}

`runId` narrows the rule to one run's instances (their `longtask:run-id` tag), so that tests running side by side
on one engine meet only their own faults; `instanceType`/`spot` narrow which requests match; `times` counts down
(absent: every time); `forSeconds` makes it lapse that long after it was added; `when` is "before" (the request
fails, nothing happens) or "after" (the request takes effect but its response is lost, as on a dropped connection).
A rule with `seconds` and no `code` makes an EC2 request slow: it takes that long, then goes on.
Lambda's Invoke takes rules too (lambda_faults.py), narrowed by `function`, part of the function's name.
Besides API operations: "StateChangeNotification" drops EC2 state-change events (ec2_state_events.py), and
"ShuttingDown" with "seconds" keeps a terminating instance `shutting-down` that long (ec2_provider.py).
Standard library only: it runs inside LocalStack.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PLAN_ENV = "LONGTASK_FAULTS_FILE"
RUN_ID_TAG = "longtask:run-id"  # the launcher's tag on each instance (functions/common/tags.py)


def plan_file() -> Path | None:
    path = os.environ.get(PLAN_ENV)
    return Path(path) if path else None


@contextmanager
def _locked(path: Path):
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def add_rules(path: Path, rules: list[dict[str, Any]]) -> None:
    """Add rules after those of the plan; a rule with "forSeconds" holds that long from now, then lapses (capacity
    that comes back)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    timed = [{**rule, "until": time.time() + rule["forSeconds"]} if "forSeconds" in rule else rule for rule in rules]
    with _locked(path):
        path.write_text(json.dumps(_read(path) + timed))


def remove_rules(path: Path, run_id: str) -> None:
    """Remove the rules of one run from the plan."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        path.write_text(json.dumps([rule for rule in _read(path) if rule.get("runId") != run_id]))


def _read(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text() or "[]") if path.exists() else []


def run_id_of(request: dict[str, Any]) -> str | None:
    """The run a RunInstances request launches for: its instance tag `longtask:run-id`."""
    for specification in request.get("TagSpecifications") or []:
        if specification.get("ResourceType") == "instance":
            for tag in specification.get("Tags") or []:
                if tag.get("Key") == RUN_ID_TAG:
                    return tag.get("Value")
    return None


def planned(operation: str) -> bool:
    """Whether the plan holds any rule for this operation (a cheap look before a request is examined)."""
    path = plan_file()
    return path is not None and path.exists() and f'"{operation}"' in path.read_text()


def take(operation: str, when: str, request: dict[str, Any], run_id: str | None) -> dict[str, Any] | None:
    """The first rule matching this request (of that run, if any), counted down; None when no fault applies."""
    path = plan_file()
    if path is None or not path.exists():
        return None
    with _locked(path):
        rules = _read(path)
        for rule in rules:
            if _matches(rule, operation, when, request, run_id):
                if "times" in rule:
                    rule["times"] -= 1
                path.write_text(json.dumps(rules))
                return rule
    return None


def _matches(rule: dict[str, Any], operation: str, when: str, request: dict[str, Any], run_id: str | None) -> bool:
    spot = (request.get("InstanceMarketOptions") or {}).get("MarketType") == "spot"
    return (
        rule.get("operation") == operation
        and rule.get("when", "before") == when
        and rule.get("times", 1) > 0
        and rule.get("instanceType", request.get("InstanceType")) == request.get("InstanceType")
        and rule.get("spot", spot) == spot
        and rule.get("runId", run_id) == run_id
        and rule.get("function", "") in str(request.get("FunctionName") or "")
        and rule.get("until", float("inf")) > time.time()
    )
