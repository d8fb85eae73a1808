"""Hold on failure on the engine: a failed script's instance stays up, the run says HOLDING until `longtask
release` (or the hold's end), then ends with the script's own failure, the hold counted in its cost."""

from __future__ import annotations

import time
from typing import Any

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .support import assert_final, live_instances


def test_a_failed_scripts_instance_is_held_until_released(client: LongTaskClient, longtask: Any) -> None:
    run_id = client.start({"script": "echo broken\nexit 4\n", "holdOnFailureSeconds": 600})
    assert poll_condition(lambda: (client.item(run_id) or {}).get("status") == "HOLDING", 60)
    held_at = time.monotonic()
    holding = client.record(run_id)
    assert holding["holdUntil"] and holding.get("exitCode") is None
    assert len(live_instances(client, run_id)) == 1  # up, for inspection
    inspected = client.exec(run_id, 'echo "inspecting $LONGTASK_RUN_ID"')  # exec works during the hold
    assert (inspected.exit_code, inspected.stdout) == (0, f"inspecting {run_id}\n")
    time.sleep(1)
    released = longtask("release", run_id)
    assert released.exit_code == 0, released.stderr
    record = assert_final(client, run_id, "FAILED")
    held = time.monotonic() - held_at
    assert record["exitCode"] == 4 and "held for inspection" in record["reason"]
    assert record["holdUntil"] == holding["holdUntil"]
    assert held < 60 and record["instanceSeconds"] >= 1  # released well before its 10 minutes; the hold was paid


def test_a_hold_ends_by_itself_at_its_time(client: LongTaskClient) -> None:
    run_id = client.start({"script": "exit 5\n", "holdOnFailureSeconds": 5})
    record = assert_final(client, run_id, "FAILED")
    assert record["exitCode"] == 5 and record["instanceSeconds"] >= 5


def test_a_succeeding_script_is_never_held(client: LongTaskClient) -> None:
    run_id = client.start({"script": "true\n", "holdOnFailureSeconds": 600})
    record = assert_final(client, run_id, "SUCCEEDED")
    assert record["holdUntil"] is None


def test_release_names_the_status_of_a_run_that_is_not_holding(client: LongTaskClient, longtask: Any) -> None:
    run_id = client.start({"script": "true\n"})
    assert_final(client, run_id, "SUCCEEDED")
    refused = longtask("release", run_id)
    assert refused.exit_code == 2 and f"run {run_id} is SUCCEEDED, not HOLDING" in refused.stderr
