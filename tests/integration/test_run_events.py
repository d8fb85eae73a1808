"""Run state-change events: each change of a run's status reaches the default bus with the run record as detail,
where a user's own rule (here one to an SQS queue) picks it up."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .support import assert_final, instances_of, run_events_of, terminate_as, wait_until_running


@pytest.fixture(scope="module")
def run_events(client: LongTaskClient) -> Iterator[Callable[[str, int], list[dict[str, Any]]]]:
    """events_of(run_id, n): the details of the run's first n "LongTask Run State Change" events, as they came."""
    with run_events_of(client, "LongTask Run State Change") as events_of:
        yield events_of


def statuses(details: list[dict[str, Any]]) -> list[str]:
    return sorted(detail["status"] for detail in details)  # EventBridge does not keep their order


def test_a_run_announces_it_started_and_how_it_ended_with_its_record(client: LongTaskClient, run_events: Any) -> None:
    run_id = client.start({"script": "echo announced\nexit 3\n"})
    record = assert_final(client, run_id, "FAILED")
    details = run_events(run_id, 2)
    assert statuses(details) == ["FAILED", "RUNNING"]
    started, ended = sorted(details, key=lambda d: d["status"] == "FAILED")
    assert ended == record and ended["exitCode"] == 3
    assert started["instanceId"] == record["instanceId"] and started["logUri"] == record["logUri"]


def test_an_aborted_run_is_announced_by_the_reaper_that_settles_it(client: LongTaskClient, run_events: Any) -> None:
    run_id = client.start({"script": "echo started\nsleep 300\n"})
    wait_until_running(client, run_id)
    record = client.abort(run_id)
    details = run_events(run_id, 2)
    assert statuses(details) == ["ABORTED", "RUNNING"]
    (aborted,) = [d for d in details if d["status"] == "ABORTED"]
    kept = {k: v for k, v in record.items() if k != "expiresAt"}  # the item's TTL is not part of the record
    assert {k: v for k, v in aborted.items() if v not in (None, [])} == kept


def test_a_relaunch_is_announced_between_its_attempts(client: LongTaskClient, run_events: Any) -> None:
    script = 'echo started\n[ "$LONGTASK_ATTEMPT" = 0 ] && sleep 300\necho done\n'  # the first attempt waits for EC2
    run_id = client.start({"script": script, "spot": True, "retries": 1})
    terminate_as(client, wait_until_running(client, run_id)["instanceId"], "Server.SpotInstanceTermination")
    final = assert_final(client, run_id, "SUCCEEDED")
    details = run_events(run_id, 4)
    assert statuses(details) == ["RELAUNCHING", "RUNNING", "RUNNING", "SUCCEEDED"]
    (relaunching,) = [d for d in details if d["status"] == "RELAUNCHING"]
    assert relaunching["attempt"] == 0 and "launching a fresh one" in relaunching["reason"]
    attempts = {relaunching["instanceId"], final["instanceId"]}
    assert len(attempts) == 2 and attempts == {i["InstanceId"] for i in instances_of(client, run_id)}


def test_a_run_that_waits_announces_it_once_with_the_reason_and_no_task_token(client: LongTaskClient,
                                                                                run_events: Any) -> None:  # fmt: skip
    queue = f"events-{secrets.token_hex(4)}"
    client.set_queue(queue, 1, None)
    holder = client.start({"script": "sleep 6\n", "queue": queue})
    assert poll_condition(lambda: (client.item(holder) or {}).get("status") == "RUNNING", 60)
    waiting = client.start({"script": "echo waited\n", "queue": queue})
    assert_final(client, waiting, "SUCCEEDED")
    details = run_events(waiting, 3)
    assert statuses(details) == ["QUEUED", "RUNNING", "SUCCEEDED"]
    (queued,) = [d for d in details if d["status"] == "QUEUED"]
    assert (queued["queue"], queued["waitReason"]) == (queue, f"queue {queue}: 1 of 1 runs")
    assert queued["executionArn"] == client.execution_arn(waiting) and queued["instanceId"] is None
    assert not any("token" in json.dumps(d).lower() for d in details)  # the wait's task token stays in the queue
    assert_final(client, holder, "SUCCEEDED")
