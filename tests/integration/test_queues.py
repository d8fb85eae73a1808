"""Queues on the engine: caps never exceeded, priorities, QUEUED runs that wait for a slot, a vCPU quota or
capacity instead of failing, and every end giving the slot back."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient, new_run_id
from longtask.waiting import poll_condition

from .support import assert_final, instances_of

SHORT = "sleep 1\necho done\n"
# holds its slot until the test puts runs/<run id>/release (the instance may read its run's prefix)
HOLD = 'until aws s3 cp "s3://$LONGTASK_BUCKET/$LONGTASK_PREFIX/release" - >/dev/null 2>&1; do sleep 0.5; done\n'


def release(client: LongTaskClient, run_id: str) -> None:
    client.s3.put_object(Bucket=client.stack.bucket, Key=f"runs/{run_id}/release", Body=b"")


def queue_name() -> str:
    return f"q-{new_run_id()}"


@contextmanager
def peak_of_instances_up(client: LongTaskClient, run_ids: Callable[[], list[str]]) -> Iterator[list[int]]:
    """Sample the runs' pending and running instances every 0.2 s; yields [peak], filled in as it goes."""
    ec2, peak, done = client.target.client("ec2"), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            ids = run_ids()
            if ids:
                reservations = ec2.describe_instances(Filters=[
                    {"Name": "tag:longtask:run-id", "Values": ids},
                    {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]  # fmt: skip
                peak[0] = max(peak[0], sum(len(r["Instances"]) for r in reservations))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


@contextmanager
def ended_at_exit(client: LongTaskClient, run_ids: list[str]) -> Iterator[None]:
    """Abort the runs still going when the test ends, passed or not: none outlives it to meet the next test."""
    try:
        yield
    finally:
        for run_id in run_ids:
            if not client.is_final(run_id):
                client.abort(run_id)


def test_runs_taking_slots_at_the_same_moment_never_pass_the_cap(client: LongTaskClient) -> None:
    """DynamoDB writes conditions atomically and transactions in isolation: twenty runs that take a slot at once
    from a queue of 5 get five slots, and the count says 5."""
    queue = queue_name()
    client.set_queue(queue, 5, None)
    arn = client.execution_arn("none")
    barrier = threading.Barrier(20)

    def take(n: int) -> str | None:
        barrier.wait()
        return client.queues.acquire(queue, f"run-{n}", arn, 2)

    with ThreadPoolExecutor(20) as pool:
        refusals = list(pool.map(take, range(20)))
    assert refusals.count(None) == 5
    assert (client.queues.usage(queue).running, client.queues.usage(queue).vcpus) == (5, 10)
    assert len([s for s in client.queues.slots() if s.queue == queue]) == 5
    for n in range(20):
        client.queues.release(queue, f"run-{n}", wake=False)
    assert (client.queues.usage(queue).running, client.queues.usage(queue).vcpus) == (0, 0)


@pytest.mark.slow(seconds=90)
def test_thirty_runs_in_a_queue_of_five_never_exceed_it_and_start_by_priority(client: LongTaskClient) -> None:
    queue = queue_name()
    client.set_queue(queue, 5, None)
    started: list[str] = []
    with ended_at_exit(client, started), peak_of_instances_up(client, lambda: list(started)) as peak:
        holders = [client.start({"script": HOLD, "queue": queue}) for _ in range(5)]
        started += holders
        assert poll_condition(lambda: all((client.item(r) or {}).get("status") == "RUNNING" for r in holders), 60)
        low = [client.start({"script": SHORT, "queue": queue, "priority": 100}) for _ in range(13)]
        high = [client.start({"script": SHORT, "queue": queue, "priority": 900}) for _ in range(12)]
        started += low + high
        # the order is among runs that wait: all of them do before a slot frees
        assert poll_condition(lambda: len(client.queues.waiters(queue)) == 25, 90)
        assert client.item(low[-1])["waitReason"].startswith(f"queue {queue}: ")
        for holder in holders:
            release(client, holder)
        records = client.wait_all(started)
    assert [r["status"] for r in records] == ["SUCCEEDED"] * 30
    assert peak[0] == 5  # full, never over
    launched = {r["runId"]: r["launchedAt"] for r in records}
    assert max(launched[r] for r in high) <= min(launched[r] for r in low)  # every high one before any low one
    assert client.queues.usage(queue).running == 0  # every slot given back


@pytest.mark.exclusive  # the account's vCPU quota
@pytest.mark.slow(seconds=60)
def test_a_small_vcpu_quota_queues_runs_instead_of_failing_them(client: LongTaskClient,
                                                                  engine_limits: Callable) -> None:  # fmt: skip
    engine_limits({"quotas": {"L-1216C47A": 4}})  # two t3a.nano (2 vCPUs each)
    run_ids: list[str] = []
    with peak_of_instances_up(client, lambda: list(run_ids)) as peak:
        run_ids += [client.start({"script": "sleep 4", "instanceTypes": ["t3a.nano"]}) for _ in range(5)]
        assert poll_condition(lambda: any((client.item(r) or {}).get("status") == "QUEUED" for r in run_ids), 30)
        queued = next(client.item(r) for r in run_ids if (client.item(r) or {}).get("status") == "QUEUED")
        assert queued["waitReason"].startswith("vCPU quota for Standard on-demand: ")
        records = client.wait_all(run_ids)
    assert [r["status"] for r in records] == ["SUCCEEDED"] * 5
    assert peak[0] == 2


def test_queue_caps_are_set_and_listed_by_the_cli_without_a_redeploy(client: LongTaskClient, longtask: Any) -> None:
    queue = queue_name()
    assert longtask("queue", "set", queue, "--max-runs", "3", "--max-vcpus", "8").exit_code == 0
    assert longtask("queue", "set", queue, "--no-max-vcpus").exit_code == 0  # the run cap stays
    (listed,) = [q for q in longtask("queue", "--json").json if q["queue"] == queue]
    assert (listed["maxRuns"], listed["maxVcpus"], listed["running"], listed["queued"]) == (3, None, 0, [])
    refused = longtask("queue", "set", "no spaces", "--max-runs", "1")
    assert refused.exit_code == 2 and "queue 'no spaces': use 1 to 64 letters" in refused.stderr


def test_a_run_waits_while_there_is_no_capacity_then_launches(client: LongTaskClient, fault_plan: Any) -> None:
    no_capacity = {"operation": "RunInstances", "code": "InsufficientInstanceCapacity", "forSeconds": 20}
    run_id = fault_plan(no_capacity)
    client.start({"script": "echo hi", "instanceTypes": ["t3a.nano"]}, run_id)
    assert poll_condition(lambda: (client.item(run_id) or {}).get("status") == "QUEUED", 30)
    assert client.item(run_id)["waitReason"].startswith("no capacity for t3a.nano; next try in ")
    record = assert_final(client, run_id, "SUCCEEDED")
    assert record["queue"] == "default"


def test_a_run_queued_past_max_queue_seconds_fails_with_the_reason(client: LongTaskClient, fault_plan: Any) -> None:
    run_id = fault_plan({"operation": "RunInstances", "code": "InsufficientInstanceCapacity", "forSeconds": 300})
    client.start({"script": "echo hi", "instanceTypes": ["t3a.nano"], "maxQueueSeconds": 20}, run_id)
    record = assert_final(client, run_id, "LAUNCH_FAILED")
    assert record["reason"].startswith("no capacity for t3a.nano; so still after "), record["reason"]
    assert record["reason"].endswith("the run's maxQueueSeconds (20)")
    assert instances_of(client, run_id) == []


def test_aborting_a_queued_run_launches_nothing(client: LongTaskClient) -> None:
    queue = queue_name()
    client.set_queue(queue, 1, None)
    holder = client.start({"script": HOLD, "queue": queue})
    with ended_at_exit(client, [holder]):
        assert poll_condition(lambda: (client.item(holder) or {}).get("status") == "RUNNING", 60)  # it holds the slot
        waiting = client.start({"script": "echo hi", "queue": queue})
        assert poll_condition(lambda: (client.item(waiting) or {}).get("status") == "QUEUED", 60)
        assert client.item(waiting)["waitReason"] == f"queue {queue}: 1 of 1 runs"
        assert client.abort(waiting)["status"] == "ABORTED"
        assert instances_of(client, waiting) == []
    assert poll_condition(lambda: client.queues.usage(queue).running == 0, 30)  # the holder's, aborted


def test_a_run_stopped_from_outside_gives_its_slot_to_the_next(client: LongTaskClient) -> None:
    queue = queue_name()
    client.set_queue(queue, 1, None)
    holder = client.start({"script": HOLD, "queue": queue})
    with ended_at_exit(client, [holder]):
        assert poll_condition(lambda: (client.item(holder) or {}).get("status") == "RUNNING", 60)
        waiting = client.start({"script": "echo hi", "queue": queue})
        assert poll_condition(lambda: (client.item(waiting) or {}).get("status") == "QUEUED", 60)
        client.stepfunctions.stop_execution(executionArn=client.execution_arn(holder))  # as from the console
        assert_final(client, waiting, "SUCCEEDED")
    assert_final(client, holder, "ABORTED")
    assert client.queues.usage(queue).running == 0


def test_a_family_quota_too_small_for_the_type_fails_at_once_naming_it(client: LongTaskClient) -> None:
    run_id = client.start({"script": "echo hi", "instanceTypes": ["p3.2xlarge"]})  # P: 0 vCPUs until asked for
    record = assert_final(client, run_id, "LAUNCH_FAILED")
    assert "p3.2xlarge needs 8 vCPUs and the quota L-417A185B (P on-demand) is 0" in record["reason"]
    assert instances_of(client, run_id) == []


@pytest.mark.exclusive  # the account's EC2 token buckets
@pytest.mark.slow(seconds=60)
def test_twenty_runs_through_a_small_run_instances_bucket_all_launch(client: LongTaskClient,
                                                                    engine_limits: Callable) -> None:  # fmt: skip
    engine_limits({"buckets": {"RunInstances": {"size": 4, "refill": 0.5}}})  # the 16 after the first 4: 32 s
    throttled = EnginePaths.default().throttled_file
    before = json.loads(throttled.read_text()).get("RunInstances", 0) if throttled.exists() else 0
    run_ids = [client.start({"script": "echo hi", "instanceTypes": ["t3a.nano"]}) for _ in range(20)]
    records = client.wait_all(run_ids)
    assert [r["status"] for r in records] == ["SUCCEEDED"] * 20
    assert json.loads(throttled.read_text())["RunInstances"] > before  # EC2 refused some launches: they waited
