"""Queues: caps on what runs at once, slots that count against them, and the runs waiting for one.

One DynamoDB table of the stack (QueuesTable), keyed by `queue` and `entry`:
- `queue`: the queue's caps (maxRuns, maxVcpus; absent: no cap) and its usage (running, vcpus), counted up and down
  atomically (ADD); `freed` grows whenever room is made (a release, a smaller slot, a raised cap);
- `slot#<runId>`: a run's slot, held from before its launch until its instance has ended;
- `wait#<rank>`: the task token of a run waiting for a slot (written by the workflow's Wait For Slot state), ranked
  by priority, then age; never copied into a record or an event. Woken, the entry loses its token and keeps its
  place until the run takes its slot;
- `retry#<rank>`: that of a run waiting for a vCPU quota or capacity, which its timer wakes, or a slot given back
  in its queue (its vCPUs may be what the quota needed); it does not hold up the queue's order (another run may
  need another type, or fit what is left).
- `#addresses` / `<allocation id>` (a partition no queue name can take): the Elastic IP a run holds, claimed in one
  transaction with its slot (which names it) and given back with it: held from before the launch until the
  instance has ended, by one run at a time.
A slot is taken in one transaction with the queue's count, on the condition that the count is below the caps (as
read): no cap is exceeded even by runs that start in the same millisecond, and runs of a queue without caps never
wait for each other. A slot is given back in one transaction too, and counted once.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .timestamps import iso_utc

DEFAULT_QUEUE = "default"
DEFAULT_PRIORITY = 500
MAX_PRIORITY = 1000
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
QUEUE_ENTRY = "queue"
SLOT = "slot#"
WAIT = "wait#"
RETRY = "retry#"
PACED = "paced#"  # a run EC2 throttled: it waits for the launch time it reserved, and nothing wakes it earlier
# The account's launch pace, kept beside the queues: a partition key no queue name can take (QUEUE_NAME)
PACE_KEY, PACE_ENTRY = "#account", "launch-pace"
ADDRESS_KEY = "#addresses"  # Elastic IPs held by runs: a partition key no queue name can take
RELAUNCH_SINCE = ""  # a relaunch waits at the head of its priority: its rank sorts before every timestamp
WAKE_SCAN = 200  # the head entries read per look when waking (woken ones keep their place until they launch)
CONFLICT_TRIES = 20  # optimistic writes tried again while other runs change the queue at the same moment
# a task token that no longer waits: its execution moved on (a timer fired) or ended
DEAD_TOKEN = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class QueueError(Exception):
    """A queue operation that cannot be done as asked (e.g. a bad name or cap)."""


@dataclass(frozen=True)
class Usage:
    """A queue's caps and what its slots hold now."""

    name: str
    max_runs: int | None = None
    max_vcpus: int | None = None
    running: int = 0
    vcpus: int = 0
    freed: int = 0

    def refusal(self, vcpus: int) -> str | None:
        """Why a slot of `vcpus` does not fit now, in words; None when it fits."""
        if self.max_runs is not None and self.running >= self.max_runs:
            return f"queue {self.name}: {self.running} of {self.max_runs} runs"
        if self.max_vcpus is not None and self.vcpus + vcpus > self.max_vcpus:
            return f"queue {self.name}: {self.vcpus} of {self.max_vcpus} vCPUs in use, {vcpus} more needed"
        return None

    @property
    def capped(self) -> bool:
        return self.max_runs is not None or self.max_vcpus is not None

    def room(self) -> int:
        """How many more runs could start now, as far as the run cap says (vCPUs decide per run)."""
        if self.max_runs is None:
            return 1_000_000
        return max(self.max_runs - self.running, 0)


@dataclass(frozen=True)
class Slot:
    queue: str
    run_id: str
    execution_arn: str
    vcpus: int
    acquired_at: str
    address: str | None = None  # the allocation id of the Elastic IP the run holds


@dataclass(frozen=True)
class Waiter:
    queue: str
    entry: str
    run_id: str
    execution_arn: str
    token: str  # "" once woken
    woken_at: str | None = None


def check_queue_name(name: str) -> str:
    if not QUEUE_NAME.match(name):
        raise QueueError(f"queue {name!r}: use 1 to 64 letters, digits, '-' or '_'")
    return name


def wait_entry(priority: int, since: str, run_id: str, for_slot: bool = True, kind: str | None = None) -> str:
    """A waiting run's sort key: higher priority first, then the oldest (`since`), then the run id."""
    return f"{kind or (WAIT if for_slot else RETRY)}{MAX_PRIORITY - priority:04d}#{since}#{run_id}"


class Queues:
    """The stack's queues in its QueuesTable. `stepfunctions` is needed only to wake waiting runs."""

    def __init__(self, dynamodb: Any, table: str, stepfunctions: Any = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        self.dynamodb, self.table, self.stepfunctions, self.sleep = dynamodb, table, stepfunctions, sleep

    def _key(self, queue: str, entry: str) -> dict[str, Any]:
        return {"queue": {"S": queue}, "entry": {"S": entry}}

    def usage(self, queue: str) -> Usage:
        item = self.dynamodb.get_item(TableName=self.table, Key=self._key(queue, QUEUE_ENTRY),
                                      ConsistentRead=True).get("Item") or {}  # fmt: skip
        return _usage(queue, item)

    def all_usage(self) -> list[Usage]:
        """Every queue that has been used or capped, by name."""
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table, FilterExpression="#entry = :queue",
            ExpressionAttributeNames={"#entry": "entry"}, ExpressionAttributeValues={":queue": {"S": QUEUE_ENTRY}},
        )  # fmt: skip
        return sorted((_usage(i["queue"]["S"], i) for p in pages for i in p["Items"]), key=lambda u: u.name)

    def set_caps(self, queue: str, max_runs: int | None, max_vcpus: int | None) -> Usage:
        """Set (a number) or lift (None) the queue's caps; raising one wakes the runs that now fit."""
        check_queue_name(queue)
        for name, value in (("maxRuns", max_runs), ("maxVcpus", max_vcpus)):
            if value is not None and value < 1:
                raise QueueError(f"{name}: {value} is not a cap; give at least 1, or lift it")
        before = self.usage(queue)
        sets = ["#freed = if_not_exists(#freed, :zero) + :one", "#running = if_not_exists(#running, :zero)",
                "#vcpus = if_not_exists(#vcpus, :zero)"]  # fmt: skip
        removes, values = [], {":zero": {"N": "0"}, ":one": {"N": "1"}}
        names = {"#freed": "freed", "#running": "running", "#vcpus": "vcpus"}
        for name, value in (("maxRuns", max_runs), ("maxVcpus", max_vcpus)):
            names[f"#{name}"] = name
            if value is None:
                removes.append(f"#{name}")
            else:
                sets.append(f"#{name} = :{name}")
                values[f":{name}"] = {"N": str(value)}
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        answer = self.dynamodb.update_item(TableName=self.table, Key=self._key(queue, QUEUE_ENTRY),
                                           UpdateExpression=expression, ExpressionAttributeNames=names,
                                           ExpressionAttributeValues=values, ReturnValues="ALL_NEW")  # fmt: skip
        after = _usage(queue, answer["Attributes"])
        if after.room() > before.room() or (after.max_vcpus or 0) > (before.max_vcpus or 0) or (
                before.max_vcpus is not None and after.max_vcpus is None):  # fmt: skip
            self.wake(queue, min(after.room(), 100))
        return after

    def acquire(self, queue: str, run_id: str, execution_arn: str, vcpus: int, seen: Usage | None = None
                ) -> str | None:  # fmt: skip
        """Take a slot of `vcpus` for the run: None when it holds one (now or already), else why not (in words).
        `seen`: the queue as the caller just read it (a changed count or cap cancels the write, which is tried
        again on a fresh read)."""
        usage = seen or self.usage(queue)
        for _ in range(CONFLICT_TRIES):
            refusal = usage.refusal(vcpus)
            if refusal is not None:
                return None if self.slot(queue, run_id) is not None else refusal
            slot = {**self._key(queue, SLOT + run_id), "runId": {"S": run_id}, "executionArn": {"S": execution_arn},
                    "vcpus": {"N": str(vcpus)}, "acquiredAt": {"S": iso_utc()}}  # fmt: skip
            try:
                self.dynamodb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": self.table, "Item": slot, "ConditionExpression": "attribute_not_exists(#e)",
                             "ExpressionAttributeNames": {"#e": "entry"}}},
                    self._count(queue, runs=1, vcpus=vcpus, freed=False, within=usage),
                ])  # fmt: skip
                return None
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                if self.slot(queue, run_id) is not None:
                    return None  # a retried launch: the run holds its slot already
                self._back_off()
                usage = self.usage(queue)
        raise QueueError(f"queue {queue}: too many runs changed it at once; the launch is tried again")

    def resize(self, queue: str, run_id: str, taken: int, vcpus: int) -> None:
        """Count only the launched type's vCPUs in the run's slot of `taken` vCPUs (when it launched a smaller one);
        the room it makes goes to the runs waiting."""
        if vcpus >= taken:
            return
        try:
            self.dynamodb.transact_write_items(TransactItems=[
                {"Update": {"TableName": self.table, "Key": self._key(queue, SLOT + run_id),
                            "UpdateExpression": "SET #v = :v", "ConditionExpression": "#v = :was",
                            "ExpressionAttributeNames": {"#v": "vcpus"},
                            "ExpressionAttributeValues": {":v": {"N": str(vcpus)}, ":was": {"N": str(taken)}}}},
                self._count(queue, runs=0, vcpus=vcpus - taken, freed=True),
            ])  # fmt: skip
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise  # cancelled: the slot is not as taken (given back meanwhile), so there is nothing to resize

    def release(self, queue: str, run_id: str, wake: bool = True) -> bool:
        """Give the run's slot back (True), or do nothing when it holds none; wakes the queue's head."""
        for _ in range(CONFLICT_TRIES):
            slot = self.slot(queue, run_id)
            if slot is None:
                return False
            address = [] if slot.address is None else [
                {"Delete": {"TableName": self.table, "Key": self._key(ADDRESS_KEY, slot.address),
                            "ConditionExpression": "attribute_not_exists(#e) OR #r = :run",
                            "ExpressionAttributeNames": {"#e": "entry", "#r": "runId"},
                            "ExpressionAttributeValues": {":run": {"S": run_id}}}}]  # fmt: skip
            try:
                self.dynamodb.transact_write_items(TransactItems=[
                    {"Delete": {"TableName": self.table, "Key": self._key(queue, SLOT + run_id),
                                "ConditionExpression": "#v = :was", "ExpressionAttributeNames": {"#v": "vcpus"},
                                "ExpressionAttributeValues": {":was": {"N": str(slot.vcpus)}}}},
                    self._count(queue, runs=-1, vcpus=-slot.vcpus, freed=True),
                    *address,
                ])  # fmt: skip
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                self._back_off()
                continue
            if wake:
                self.wake(queue, 1)
                self.wake(queue, 1, kind=RETRY)  # its vCPUs may be what a run waiting for the quota needs
            return True
        raise QueueError(f"queue {queue}: too many runs changed it at once")

    def claim_address(self, queue: str, run_id: str, candidates: list[str]) -> str | None:
        """Claim the first of `candidates` (allocation ids) no run holds, for the run that holds a slot in `queue`:
        the address's claim and the slot's note of it are one transaction. The one it claimed before (a retried
        launch), else the one claimed now, else None (all held)."""
        slot = self.slot(queue, run_id)
        if slot is None or slot.address is not None:
            return slot.address if slot else None
        for allocation_id in candidates:
            claim = {**self._key(ADDRESS_KEY, allocation_id), "runId": {"S": run_id}, "slotQueue": {"S": queue},
                     "claimedAt": {"S": iso_utc()}}  # fmt: skip
            try:
                self.dynamodb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": self.table, "Item": claim, "ConditionExpression": "attribute_not_exists(#e)",
                             "ExpressionAttributeNames": {"#e": "entry"}}},
                    {"Update": {"TableName": self.table, "Key": self._key(queue, SLOT + run_id),
                                "UpdateExpression": "SET #a = :a",
                                "ConditionExpression": "attribute_exists(#e) AND attribute_not_exists(#a)",
                                "ExpressionAttributeNames": {"#a": "address", "#e": "entry"},
                                "ExpressionAttributeValues": {":a": {"S": allocation_id}}}},
                ])  # fmt: skip
                return allocation_id
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
        return None

    def address_holders(self) -> dict[str, str]:
        """Each claimed Elastic IP's allocation id and the run holding it."""
        items = self.dynamodb.query(TableName=self.table, KeyConditionExpression="#q = :q", ConsistentRead=True,
                                    ExpressionAttributeNames={"#q": "queue"},
                                    ExpressionAttributeValues={":q": {"S": ADDRESS_KEY}})["Items"]  # fmt: skip
        return {item["entry"]["S"]: item["runId"]["S"] for item in items}

    def slot(self, queue: str, run_id: str) -> Slot | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=self._key(queue, SLOT + run_id),
                                      ConsistentRead=True).get("Item")  # fmt: skip
        return _slot(item) if item else None

    def slots(self) -> list[Slot]:
        """Every slot held, in every queue."""
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table, FilterExpression="begins_with(#entry, :slot)",
            ExpressionAttributeNames={"#entry": "entry"}, ExpressionAttributeValues={":slot": {"S": SLOT}},
            ConsistentRead=True,
        )  # fmt: skip
        return [_slot(item) for page in pages for item in page["Items"]]

    def waiters(self, queue: str, before: str | None = None, limit: int | None = None, kind: str = WAIT
                ) -> list[Waiter]:  # fmt: skip
        """The queue's runs waiting for a slot (kind RETRY: for quota or capacity) in the order they start (woken
        ones too, until they take their slot); only those ranked before `before` when given."""
        condition = "#queue = :queue AND #entry BETWEEN :first AND :last"
        last = before[:-1] + chr(ord(before[-1]) - 1) + "\uffff" if before else kind + "\uffff"
        arguments: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": condition, "ConsistentRead": True,
            "ExpressionAttributeNames": {"#queue": "queue", "#entry": "entry"},
            "ExpressionAttributeValues": {":queue": {"S": queue}, ":first": {"S": kind}, ":last": {"S": last}},
        }  # fmt: skip
        if limit:
            arguments["Limit"] = limit
        items = self.dynamodb.query(**arguments)["Items"]
        return [Waiter(queue, i["entry"]["S"], i.get("runId", {}).get("S", ""), i.get("executionArn", {}).get("S", ""),
                       i.get("taskToken", {}).get("S", ""), i.get("wokenAt", {}).get("S")) for i in items]  # fmt: skip

    def reserve_launch(self, now: float, interval: float) -> float:
        """A moment (epoch seconds) to launch at, `interval` after the last one reserved, or soon when none is
        pending: runs EC2 throttled come back one at a time at the pace its buckets refill, not all at once."""
        key = self._key(PACE_KEY, PACE_ENTRY)
        try:
            self.dynamodb.update_item(TableName=self.table, Key=key, UpdateExpression="SET nextAt = :at",
                                      ConditionExpression="attribute_not_exists(nextAt) OR nextAt < :now",
                                      ExpressionAttributeValues={":at": {"N": f"{now + interval:.3f}"},
                                                                 ":now": {"N": f"{now:.3f}"}})  # fmt: skip
            return now + interval
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        answer = self.dynamodb.update_item(TableName=self.table, Key=key, UpdateExpression="ADD nextAt :interval",
                                           ExpressionAttributeValues={":interval": {"N": f"{interval:.3f}"}},
                                           ReturnValues="UPDATED_NEW")  # fmt: skip
        return float(answer["Attributes"]["nextAt"]["N"])

    def forget_wait(self, queue: str, entry: str) -> None:
        """Remove a run's wait entry (it took its slot, or gave up; or, woken long ago, its run never came)."""
        self.dynamodb.delete_item(TableName=self.table, Key=self._key(queue, entry))

    def wake(self, queue: str, count: int, before: str | None = None, kind: str = WAIT) -> int:
        """Wake up to `count` waiting runs from the head (ranked before `before`, if given), passing over those
        woken already and dropping those whose token no longer waits; how many woke. A woken run's entry stays,
        marked, until it takes its slot: a run ranked after it does not take that slot meanwhile."""
        woken = 0
        while woken < count:
            waiting = [w for w in self.waiters(queue, before, limit=WAKE_SCAN, kind=kind) if w.token]
            marked = 0
            for waiter in waiting[: count - woken]:
                if not self._mark_woken(waiter):
                    continue  # woken by another meanwhile, or waiting again with a new token
                marked += 1
                if self._send(waiter):
                    woken += 1
                else:
                    self.forget_wait(queue, waiter.entry)
            if not marked:
                break
        return woken

    def _mark_woken(self, waiter: Waiter) -> bool:
        """Take the token off the waiter's entry if it still holds it (a newer wait of the run keeps its own)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=self._key(waiter.queue, waiter.entry), ConditionExpression="#t = :t",
                UpdateExpression="REMOVE #t SET #w = :now",
                ExpressionAttributeNames={"#t": "taskToken", "#w": "wokenAt"},
                ExpressionAttributeValues={":t": {"S": waiter.token}, ":now": {"S": iso_utc()}},
            )  # fmt: skip
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def _send(self, waiter: Waiter) -> bool:
        try:
            self.stepfunctions.send_task_success(taskToken=waiter.token, output="{}")
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] in DEAD_TOKEN:
                return False
            raise

    def _count(self, queue: str, runs: int, vcpus: int, freed: bool, within: Usage | None = None) -> dict[str, Any]:
        """The transaction's change of the queue's count; `within`: only while the count stays within the caps read
        then (and those caps are still the queue's)."""
        names = {"#running": "running", "#vcpus": "vcpus", "#freed": "freed"}
        values = {":runs": {"N": str(runs)}, ":vcpus": {"N": str(vcpus)}, ":freed": {"N": "1" if freed else "0"}}
        update: dict[str, Any] = {"TableName": self.table, "Key": self._key(queue, QUEUE_ENTRY),
                                  "UpdateExpression": "ADD #running :runs, #vcpus :vcpus, #freed :freed"}  # fmt: skip
        if within is not None:
            names.update({"#maxRuns": "maxRuns", "#maxVcpus": "maxVcpus"})
            conditions = []
            if within.max_runs is None:
                conditions.append("attribute_not_exists(#maxRuns)")
            else:
                conditions.append("#maxRuns = :maxRuns AND (attribute_not_exists(#running) OR #running < :maxRuns)")
                values[":maxRuns"] = {"N": str(within.max_runs)}
            if within.max_vcpus is None:
                conditions.append("attribute_not_exists(#maxVcpus)")
            else:
                conditions.append("#maxVcpus = :maxVcpus AND (attribute_not_exists(#vcpus) OR #vcpus <= :room)")
                values[":maxVcpus"] = {"N": str(within.max_vcpus)}
                values[":room"] = {"N": str(within.max_vcpus - vcpus)}
            update["ConditionExpression"] = " AND ".join(conditions)
        return {"Update": {**update, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}

    def _back_off(self) -> None:
        self.sleep(random.uniform(0.01, 0.1))


def _number(item: dict[str, Any], name: str) -> int | None:
    return int(item[name]["N"]) if name in item else None


def _usage(queue: str, item: dict[str, Any]) -> Usage:
    return Usage(queue, _number(item, "maxRuns"), _number(item, "maxVcpus"), _number(item, "running") or 0,
                 _number(item, "vcpus") or 0, _number(item, "freed") or 0)  # fmt: skip


def _slot(item: dict[str, Any]) -> Slot:
    return Slot(item["queue"]["S"], item["runId"]["S"], item.get("executionArn", {}).get("S", ""),
                int(item["vcpus"]["N"]), item.get("acquiredAt", {}).get("S", ""),
                item.get("address", {}).get("S"))  # fmt: skip
