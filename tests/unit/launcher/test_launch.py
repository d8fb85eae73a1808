"""The launch state (common/launch.py): the workflow's camelCase `$.launch`, read back as the same typed value."""

from __future__ import annotations

import json

from common.launch import DeadlineSource, Launch

LAUNCH = Launch(run_id="run-1", execution_arn="arn:aws:states:us-east-1:123456789012:execution:longtask:run-1",
                instance_id="i-1", instance_type="t3a.nano", subnet_id="subnet-1", spot=True,
                launched_at="2026-01-01T00:00:00Z", deadline="2026-01-01T02:00:00Z", log_uri="s3://b/log",
                live_log_uri="s3://b/live/", result_uri="s3://b/result.json", artifacts_uri="s3://b/artifacts/",
                retry_on_exit_codes=[75], window_count=2, deadline_source=DeadlineSource.BUDGET, max_cost_usd=1.5,
                rate={"instance": 0.0047, "volume": 0.0009, "publicIp": 0.005})  # fmt: skip


def test_the_launch_goes_through_the_workflow_as_json_and_comes_back_the_same() -> None:
    carried = json.loads(json.dumps(LAUNCH.as_dict()))  # what the workflow passes from state to state
    assert {"instanceId", "windowCount", "retryOnExitCodes", "maxCostUsd", "deadlineSource"} <= set(carried)
    assert carried["deadlineSource"] == "BUDGET"
    assert Launch.from_dict(carried) == LAUNCH


def test_a_launch_without_a_budget_leaves_it_out_and_unknown_names_are_ignored() -> None:
    plain = Launch.from_dict({**LAUNCH.as_dict(), "maxCostUsd": None, "rate": None, "somethingNew": 1})
    assert "maxCostUsd" not in plain.as_dict() and "rate" not in plain.as_dict()


def test_a_run_launched_before_the_enum_is_read_right() -> None:
    """A run in flight across an update carries the field name the launcher used to write."""
    for earlier, now in (("maxCostUsd", DeadlineSource.BUDGET), ("timeoutSeconds", DeadlineSource.TIMEOUT)):
        assert Launch.from_dict({**LAUNCH.as_dict(), "deadlineSource": earlier}).deadline_source == now
