"""Launching through a queue, against moto: slots within caps, waits in rank order, quota refusals that wait, and
a slot given back on every path that launches nothing."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber
from common.capacity import Capacity
from common.queues import PACED, RETRY, Queues, wait_entry
from launcher.errors import LaunchFailed
from launcher.instances import Launched, NoCapacity, Option
from launcher.queueing import LAUNCH_PACE_SECONDS, Carry, Gate, Queued, Ticket

from ..conftest import QUEUES_TABLE

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:longtask:"
NANO = [Option("t3a.nano")]  # 2 vCPUs


class Quotas:
    """Service Quotas as the account answers (moto has none)."""

    def __init__(self, values: dict[str, float]) -> None:
        self.values = values

    def get_service_quota(self, ServiceCode: str, QuotaCode: str) -> dict[str, Any]:
        return {"Quota": {"Value": self.values[QuotaCode]}}


class Woken:
    """Step Functions taking task tokens."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def send_task_success(self, taskToken: str, output: str) -> None:
        self.tokens.append(taskToken)


def gate(aws: dict[str, Any], queues: Queues, run_id: str, queue: str = "q", priority: int = 500,
         quota: float = 64, carry: Carry | None = None) -> Gate:  # fmt: skip
    capacity = Capacity(aws["ec2"], Quotas({"L-1216C47A": quota, "L-34B43A08": quota}))
    return Gate(queues, capacity, Ticket(queue, priority, 3600), run_id, ARN + run_id, carry or Carry(), NOW)


def launches(instance_id: str) -> Any:
    return lambda options: Launched(instance_id, options[0].instance_type, "subnet-1")


def test_a_queue_never_holds_more_slots_than_its_cap(aws: dict[str, Any], queues: Queues) -> None:
    queues.set_caps("q", 2, None)
    gate(aws, queues, "a").launch(NANO, launches("i-a"))
    gate(aws, queues, "b").launch(NANO, launches("i-b"))
    with pytest.raises(Queued, match=r"^queue q: 2 of 2 runs$") as refused:
        gate(aws, queues, "c").launch(NANO, launches("i-c"))
    assert refused.value.for_slot
    assert (queues.usage("q").running, queues.usage("q").vcpus) == (2, 4)
    assert queues.slot("q", "a").vcpus == 2


def test_a_slot_is_taken_once_and_given_back_once(queues: Queues, aws: dict[str, Any]) -> None:
    assert queues.acquire("q", "a", ARN + "a", 2) is None
    assert queues.acquire("q", "a", ARN + "a", 2) is None  # a retried launch holds the same slot
    assert queues.usage("q").running == 1
    assert queues.release("q", "a", wake=False)
    assert not queues.release("q", "a", wake=False)  # nothing left to give back
    assert (queues.usage("q").running, queues.usage("q").vcpus) == (0, 0)


def test_a_vcpu_cap_counts_the_types_launched(aws: dict[str, Any], queues: Queues) -> None:
    queues.set_caps("q", None, 4)
    gate(aws, queues, "a").launch([Option("t3a.nano")], launches("i-a"))  # 2
    with pytest.raises(Queued, match=r"^queue q: 2 of 4 vCPUs in use, 4 more needed$"):
        gate(aws, queues, "b").launch([Option("t3a.xlarge")], launches("i-b"))  # 4


def test_a_slot_counts_only_the_type_launched(aws: dict[str, Any], queues: Queues) -> None:
    """A slot takes the largest fitting type's vCPUs before the launch; a smaller one launched gives the rest back."""
    queues.set_caps("q", None, 8)
    options = [Option("t3a.xlarge"), Option("t3a.nano")]  # 4 and 2 vCPUs
    gate(aws, queues, "a").launch(options, lambda allowed: Launched("i-a", "t3a.nano", "subnet-1"))
    assert (queues.usage("q").vcpus, queues.slot("q", "a").vcpus) == (2, 2)


def test_a_type_larger_than_the_queue_allows_fails_at_once(aws: dict[str, Any], queues: Queues) -> None:
    queues.set_caps("q", None, 2)
    with pytest.raises(LaunchFailed, match=r"t3a\.xlarge needs 4 vCPUs and queue q allows 2"):
        gate(aws, queues, "a").launch([Option("t3a.xlarge")], launches("i-a"))
    assert queues.usage("q").running == 0


def test_waiting_runs_rank_by_priority_then_age(queues: Queues, aws: dict[str, Any]) -> None:
    for entry, run_id in ((wait_entry(500, "2026-12-07T10:00:00Z", "old"), "old"),
                          (wait_entry(900, "2026-12-07T11:00:00Z", "urgent"), "urgent"),
                          (wait_entry(500, "", "relaunch"), "relaunch")):  # fmt: skip
        aws["dynamodb"].put_item(TableName=QUEUES_TABLE, Item={"queue": {"S": "q"}, "entry": {"S": entry},
                                 "runId": {"S": run_id}, "taskToken": {"S": "t-" + run_id}})  # fmt: skip
    assert [w.run_id for w in queues.waiters("q")] == ["urgent", "relaunch", "old"]
    assert [w.run_id for w in queues.waiters("q", before=wait_entry(500, "2026-12-07T09:00:00Z", "new"))] == [
        "urgent", "relaunch"]  # fmt: skip


def test_a_new_run_waits_behind_those_ranked_before_it(aws: dict[str, Any], queues: Queues) -> None:
    queues.set_caps("q", 1, None)
    gate(aws, queues, "a").launch(NANO, launches("i-a"))
    entry = wait_entry(900, "2026-12-07T11:00:00Z", "urgent")
    aws["dynamodb"].put_item(TableName=QUEUES_TABLE, Item={"queue": {"S": "q"}, "entry": {"S": entry},
                             "runId": {"S": "urgent"}, "taskToken": {"S": "t"}})  # fmt: skip
    queues.release("q", "a", wake=False)  # room, but the urgent run is ahead: it is woken, and goes first
    queues.stepfunctions = Woken()
    with pytest.raises(Queued, match="runs of higher rank wait ahead"):
        gate(aws, queues, "b", priority=100).launch(NANO, launches("i-b"))
    assert queues.stepfunctions.tokens == ["t"]
    assert queues.slot("q", "b") is None


def test_a_quota_that_would_refuse_the_launch_queues_without_calling_ec2(aws: dict[str, Any], queues: Queues
                                                                       ) -> None:  # fmt: skip
    aws["ec2"].run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3a.nano")
    called = []
    with pytest.raises(Queued, match=r"^vCPU quota for Standard on-demand: 2 of 2 in use$") as refused:
        gate(aws, queues, "a", quota=2).launch(NANO, lambda options: called.append(options))
    assert not refused.value.for_slot
    assert called == []
    assert queues.usage("q").running == 0  # the slot went back


def test_no_capacity_anywhere_gives_the_slot_back(aws: dict[str, Any], queues: Queues) -> None:
    def refused(options: list[Option]) -> Launched:
        raise NoCapacity("no capacity for t3a.nano")

    with pytest.raises(Queued, match=r"^no capacity for t3a\.nano$"):
        gate(aws, queues, "a").launch(NANO, refused)
    assert queues.slot("q", "a") is None


def test_a_type_whose_quota_is_smaller_than_one_instance_fails_naming_the_quota(aws: dict[str, Any],
                                                                                queues: Queues) -> None:  # fmt: skip
    with pytest.raises(LaunchFailed, match=r"t3a.nano needs 2 vCPUs and the quota L-1216C47A \(Standard on-demand\) "
                                           "is 0; ask for more in Service Quotas"):  # fmt: skip
        gate(aws, queues, "a", quota=0).launch(NANO, launches("i-a"))


def test_the_carry_of_a_wait_bounds_it_by_max_queue_seconds(aws: dict[str, Any], queues: Queues) -> None:
    waiting = gate(aws, queues, "a").queued(Queued("no capacity for t3a.nano", for_slot=False))
    assert (waiting.retrySeconds, waiting.tries, waiting.queuedAt) == (45, 1, "2026-12-07T12:00:00Z")
    assert waiting.wait_reason() == "no capacity for t3a.nano; next try in 45 s"
    later = Gate(queues, Capacity(aws["ec2"], Quotas({})), Ticket("q", 500, 3600), "a", ARN + "a", waiting,
                 datetime(2026, 12, 7, 13, 0, 1, tzinfo=UTC))  # fmt: skip
    with pytest.raises(LaunchFailed, match=r"so still after 3601 s queued, the run's maxQueueSeconds \(3600\)"):
        later.queued(Queued("no capacity for t3a.nano", for_slot=False))


def test_a_wait_for_capacity_grows_with_its_time_not_with_its_tries(aws: dict[str, Any], queues: Queues) -> None:
    """Woken early (a slot given back in its queue) and refused again, the run still tries again in 45 s; after 5
    minutes of waiting, in 5 minutes; never later than 10."""
    refused = Queued("no capacity for t3a.nano", for_slot=False)
    first = gate(aws, queues, "a").queued(refused)
    for minutes, retry in ((0.1, 45), (5, 300), (30, 600)):
        later = Gate(queues, Capacity(aws["ec2"], Quotas({})), Ticket("q", 500, 7200), "a", ARN + "a",
                     replace(first, tries=9), NOW + timedelta(minutes=minutes))  # fmt: skip
        assert later.queued(refused).retrySeconds == retry


def test_a_relaunch_waits_at_the_head_of_its_priority_adding_to_its_earlier_wait(aws: dict[str, Any],
                                                                                 queues: Queues) -> None:  # fmt: skip
    carry = Carry(attempt=1, queueSeconds=100)
    waiting = gate(aws, queues, "a", carry=carry).queued(Queued("queue q: 1 of 1 runs", for_slot=True))
    assert waiting.waitEntry == wait_entry(500, "", "a")  # before every run of its priority that waits
    later = Gate(queues, Capacity(aws["ec2"], Quotas({})), Ticket("q", 500, 3600), "a", ARN + "a", waiting,
                 datetime(2026, 12, 7, 12, 1, tzinfo=UTC))  # fmt: skip
    assert later.waited_seconds() == 160


def test_waking_skips_runs_whose_wait_is_over(aws: dict[str, Any]) -> None:
    import boto3
    from botocore.exceptions import ClientError  # noqa: F401 (the stub raises it)

    stepfunctions = boto3.client("stepfunctions", region_name="us-east-1")
    queues = Queues(aws["dynamodb"], QUEUES_TABLE, stepfunctions, sleep=lambda _: None)
    for rank, run_id in ((100, "gone"), (500, "waiting")):
        aws["dynamodb"].put_item(TableName=QUEUES_TABLE, Item={
            "queue": {"S": "q"}, "entry": {"S": wait_entry(1000 - rank, "t", run_id)}, "runId": {"S": run_id},
            "taskToken": {"S": "token-" + run_id}})  # fmt: skip
    with Stubber(stepfunctions) as stub:
        stub.add_client_error("send_task_success", "TaskTimedOut", expected_params={"taskToken": "token-gone",
                                                                                   "output": "{}"})  # fmt: skip
        stub.add_response("send_task_success", {}, {"taskToken": "token-waiting", "output": "{}"})
        assert queues.wake("q", 1) == 1
    (woken,) = queues.waiters("q")  # the dead one is gone; the woken one keeps its place until it launches
    assert (woken.run_id, woken.token) == ("waiting", "")


def test_a_run_woken_a_moment_ago_keeps_the_room_it_was_woken_for(aws: dict[str, Any], queues: Queues) -> None:
    queues.set_caps("q", 1, None)
    entry = wait_entry(900, "2026-12-07T11:00:00Z", "woken")
    aws["dynamodb"].put_item(TableName=QUEUES_TABLE, Item={"queue": {"S": "q"}, "entry": {"S": entry},
                             "runId": {"S": "woken"}, "wokenAt": {"S": "2026-12-07T11:59:30Z"}})  # fmt: skip
    with pytest.raises(Queued, match="runs of higher rank wait ahead"):
        gate(aws, queues, "late", priority=100).launch(NANO, launches("i-late"))
    aws["dynamodb"].put_item(TableName=QUEUES_TABLE, Item={"queue": {"S": "q"}, "entry": {"S": entry},
                             "runId": {"S": "woken"}, "wokenAt": {"S": "2026-12-07T11:50:00Z"}})  # fmt: skip
    gate(aws, queues, "late", priority=100).launch(NANO, launches("i-late"))  # that one never came back
    assert queues.waiters("q") == []


def test_a_raised_quota_lets_runs_launch_within_seconds(aws: dict[str, Any]) -> None:
    """What a Lambda environment read of a quota stays good for minutes, but a refusal reads it again."""
    aws["ec2"].run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3a.nano")
    quotas, now = Quotas({"L-1216C47A": 2}), [0.0]
    capacity = Capacity(aws["ec2"], quotas, clock=lambda: now[0])
    assert capacity.refusal("t3a.nano", False, 2) == "vCPU quota for Standard on-demand: 2 of 2 in use"
    quotas.values["L-1216C47A"] = 4
    now[0] = 11.0
    assert capacity.refusal("t3a.nano", False, 2) is None


def test_room_made_while_a_run_decides_to_wait_sends_it_back_at_once(aws: dict[str, Any], queues: Queues) -> None:
    """The wait is parked on the `freed` count the run saw when it was refused: a slot given back in between
    changes the count, so the workflow's condition fails and the run tries again instead of sleeping."""
    queues.set_caps("q", 1, None)
    gate(aws, queues, "a").launch(NANO, launches("i-a"))
    late = gate(aws, queues, "b")
    with pytest.raises(Queued) as refused:
        late.launch(NANO, launches("i-b"))
    seen = queues.usage("q").freed
    queues.release("q", "a", wake=False)  # before the run parks its wait
    assert late.queued(refused.value).freed == str(seen) != str(queues.usage("q").freed)


def test_runs_ec2_throttled_come_back_at_its_pace_and_nothing_wakes_them(aws: dict[str, Any],
                                                                         queues: Queues) -> None:  # fmt: skip
    """Each throttled run reserves a launch time LAUNCH_PACE_SECONDS after the last: 40 runs are spread out (after
    the first 5 s), not all back at once; their waits are paced entries, which a freed slot does not wake."""
    throttled = Queued("EC2 throttled RunInstances (RequestLimitExceeded)", for_slot=False, throttled=True)
    retries = [gate(aws, queues, f"r{n}").queued(throttled) for n in range(40)]
    paced = [max(5, math.ceil(n * LAUNCH_PACE_SECONDS - 1e-9)) for n in range(1, 41)]  # the n-th: n paces on
    assert [r.retrySeconds for r in retries] == paced
    assert retries[-1].retrySeconds == 8
    assert all(r.waitEntry.startswith(PACED) for r in retries)
    assert queues.waiters("q", kind=RETRY) == []
    later = Gate(queues, Capacity(aws["ec2"], Quotas({})), Ticket("q", 500, 3600), "late", ARN + "late", Carry(),
                 NOW + timedelta(minutes=1))  # fmt: skip
    assert later.queued(throttled).retrySeconds == 5  # the pace reserved earlier is long past: soon again


def test_the_instances_running_are_as_last_read_when_ec2_throttles_a_fresh_read(aws: dict[str, Any]) -> None:
    """Asked after a launch (for the fleet's poll interval): a throttled read keeps the last count, never fails."""
    now = [0.0]
    capacity = Capacity(aws["ec2"], Quotas({}), clock=lambda: now[0])
    aws["ec2"].run_instances(ImageId="ami-12345678", MinCount=3, MaxCount=3, InstanceType="t3a.nano")
    assert capacity.running() == 3
    now[0] = 60.0  # stale: the next look reads again, and EC2 refuses it
    with Stubber(aws["ec2"]) as ec2:
        ec2.add_client_error("describe_instances", "RequestLimitExceeded", "slow down", 503)
        assert capacity.running() == 3
        ec2.assert_no_pending_responses()
