"""A launch's way through its queue: wait behind higher-ranked runs, take a slot, skip what a vCPU quota would
certainly refuse, launch, and give the slot back to wait again when nothing could launch.

The workflow carries a `Carry` between its Launch Instance and Wait For Slot states: where the run stands (attempt,
interruptions, spend) and, while it waits, why and until when. Its task token never passes through here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from common.capacity import Capacity
from common.queues import PACED, RELAUNCH_SINCE, Queues, Usage, wait_entry
from common.timestamps import iso_utc, parse_iso_utc

from .addresses import Address, pool_refusal
from .errors import LaunchFailed
from .instances import Launched, NoCapacity, Option

QUEUE_RETRY_SECONDS = 600  # a run waiting for a slot is woken when one frees; this is the safety net
# for quota and capacity: then as long again as the wait so far, up to QUEUE_RETRY_SECONDS (at 3 transitions a try,
# about 29 in a first hour of waiting, 18 in each after: docs/queues.md)
FIRST_RETRY_SECONDS = 45
# A run EC2 throttled reserves a launch time (Queues.reserve_launch): the runs it throttled come back one every
# 0.2 s, as fast as EC2 refills RunInstances' request bucket (5 a second,
# https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html), never sooner than 5 s. Once its instance
# bucket (2 a second) is empty too, some are refused again and reserve again: bench/scale_model.py weighs the pace.
LAUNCH_PACE_SECONDS = 0.2
THROTTLED_RETRY_SECONDS = 5
WAIT_ENTRY_GRACE_SECONDS = 3600  # a wait entry outlives its timer this long before DynamoDB's TTL removes it
WOKEN_GRACE_SECONDS = 60  # a woken run reaches its launcher within seconds; later, runs behind it go on
MAX_AHEAD = 100  # the runs ahead read at most, whatever the room


class Queued(Exception):
    """The run cannot launch now and waits: `reason` in words; `for_slot` when a freed slot is what it awaits."""

    def __init__(self, reason: str, for_slot: bool, throttled: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.for_slot, self.throttled = reason, for_slot, throttled


@dataclass(frozen=True)
class Carry:
    """What the workflow carries from one Launch Instance to the next (camelCase in the workflow)."""

    attempt: int = 0
    interruptions: int = 0
    spentUsd: float = 0.0
    queueSeconds: int = 0
    queue: str | None = None  # the rest: set while the run waits
    priority: int | None = None
    since: str | None = None  # the rank's time: when the run first waited ("" for a relaunch: the head)
    queuedAt: str | None = None  # when the run first waited, for its record
    waitStartedAt: str | None = None  # when this attempt began to wait
    tries: int = 0
    reason: str | None = None
    forSlot: bool = True  # a freed slot wakes the run; else only its timer does (quota, capacity)
    retrySeconds: int | None = None
    waitEntry: str | None = None
    freed: str | None = None  # the queue's `freed` count when the launch was refused (Wait For Slot's condition)
    waitExpiresAt: str | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> Carry:
        known = set(cls.__dataclass_fields__)
        return cls(**{name: value for name, value in (values or {}).items() if name in known and value is not None})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def wait_reason(self) -> str:
        """Why the run waits, in words, with when it tries again unless a freed slot wakes it."""
        if self.forSlot or self.retrySeconds is None:
            return self.reason or ""
        return f"{self.reason}; next try in {_duration(self.retrySeconds)}"

    def waited(self, now: datetime) -> int:
        """Seconds queued over every attempt, this wait included."""
        if self.waitStartedAt is None:
            return self.queueSeconds
        return self.queueSeconds + max(int((now - parse_iso_utc(self.waitStartedAt)).total_seconds()), 0)


@dataclass(frozen=True)
class Ticket:
    """A run's place: its queue, priority and how long it may wait in all."""

    queue: str
    priority: int
    max_queue_seconds: int


class Gate:
    """Launches through a queue: `launch(options, launch_one)` returns what launched, or raises Queued."""

    def __init__(self, queues: Queues, capacity: Capacity, ticket: Ticket, run_id: str, execution_arn: str,
                 carry: Carry, now: datetime) -> None:  # fmt: skip
        self.queues, self.capacity, self.ticket, self.carry = queues, capacity, ticket, carry
        self.run_id, self.execution_arn, self.now = run_id, execution_arn, now
        since = carry.since if carry.since is not None else (RELAUNCH_SINCE if carry.attempt else iso_utc(now))
        self.entry = wait_entry(ticket.priority, since, run_id)
        self.since = since
        self.seen: Usage | None = None  # the queue as this try looked at it, before deciding to wait

    def launch(self, options: list[Option], launch_one: Callable[[list[Option]], Launched],
               pool: list[Address] | None = None) -> Launched:  # fmt: skip
        """Launch one of the options within the queue's caps and the account's quotas, holding an address of the
        pool (if given) with the slot."""
        queue = self.ticket.queue
        vcpus = self.capacity.vcpus(sorted({o.instance_type for o in options}))
        usage = self.seen = self.queues.usage(queue)
        self._refuse_what_never_fits(options, vcpus, usage)
        fitting = [o for o in options if usage.max_vcpus is None or vcpus.get(o.instance_type, 0) <= usage.max_vcpus]
        room = usage.room() if usage.refusal(min(vcpus.get(o.instance_type, 0) for o in fitting)) is None else 0
        if usage.capped:  # only a capped queue's runs wait for a slot
            self._let_those_ahead_go_first(room)
        fits_now = [o for o in fitting if usage.refusal(vcpus.get(o.instance_type, 0)) is None] or fitting
        needed = max(vcpus.get(o.instance_type, 0) for o in fits_now)
        refusal = self.queues.acquire(queue, self.run_id, self.execution_arn, needed, seen=usage)
        if refusal is not None:
            raise Queued(refusal, for_slot=True)
        try:
            allowed, quota_reasons = [], []
            for option in fits_now:
                why = self.capacity.refusal(option.instance_type, option.spot, vcpus.get(option.instance_type, 0))
                (quota_reasons.append(why) if why else allowed.append(option))
            if not allowed:
                raise Queued("; ".join(dict.fromkeys(quota_reasons)), for_slot=False)
            free = [address.allocation_id for address in pool or [] if not address.associated]
            if pool and self.queues.claim_address(queue, self.run_id, free) is None:
                raise Queued(pool_refusal(pool), for_slot=False)
            try:
                launched = launch_one(allowed)
            except NoCapacity as refused:
                raise Queued(str(refused), for_slot=False, throttled=refused.throttled) from None
        except BaseException:
            self.queues.release(queue, self.run_id, wake=False)  # the runs behind would meet the same refusal
            raise
        finally:
            self._forget_own_waits()
        used = vcpus.get(launched.instance_type, 0)
        self.queues.resize(queue, self.run_id, needed, used)
        self.capacity.launched(launched.instance_type, launched.spot, used)
        if usage.capped and self.queues.usage(queue).refusal(1) is None:
            self.queues.wake(queue, 1)  # a raised cap or a burst of ends can leave room for more
        return launched

    def _let_those_ahead_go_first(self, room: int) -> None:
        """Queued while runs ranked before this one wait: it wakes them when there is room. Runs woken a moment
        ago keep the room they were woken for; one woken long ago whose run never came back is forgotten."""
        ahead = self.queues.waiters(self.ticket.queue, before=self.entry, limit=min(room, MAX_AHEAD) + 1)
        waiting = [w for w in ahead if w.token]
        woken = [w for w in ahead if not w.token and _recent(w.woken_at, self.now)]
        for stale in (w for w in ahead if not w.token and w not in woken):
            self.queues.forget_wait(self.ticket.queue, stale.entry)
        spare = room - len(woken)
        if waiting and spare > 0 and self.queues.wake(self.ticket.queue, spare, before=self.entry) == 0:
            waiting = []  # none of them waits any more
        if waiting or (woken and spare <= 0):
            raise Queued(f"queue {self.ticket.queue}: runs of higher rank wait ahead", for_slot=True)

    def _forget_own_waits(self) -> None:
        """This try is over: the run's wait entries go (a new wait puts its own); a run that never waited has none."""
        if self.carry.waitEntry is None:
            return
        for entry in {self.entry, self.carry.waitEntry}:
            self.queues.forget_wait(self.ticket.queue, entry)

    def _refuse_what_never_fits(self, options: list[Option], vcpus: dict[str, int], usage: Usage) -> None:
        """LaunchFailed when no option could ever launch: a vCPU quota (or the queue's cap) below one instance."""
        reasons = []
        for option in options:
            needed = vcpus.get(option.instance_type, 0)
            if usage.max_vcpus is not None and needed > usage.max_vcpus:
                reasons.append(f"{option.instance_type} needs {needed} vCPUs and queue {self.ticket.queue} allows "
                               f"{usage.max_vcpus}; raise it with `longtask queue set`")  # fmt: skip
                continue
            why = self.capacity.never_fits(option.instance_type, option.spot, needed)
            if why is None:
                return
            reasons.append(why)
        raise LaunchFailed("no instance type can ever launch: " + "; ".join(dict.fromkeys(reasons)))

    def queued(self, refusal: Queued) -> Carry:
        """The carry of a run that waits now; LaunchFailed past maxQueueSeconds."""
        carry = replace(self.carry, queue=self.ticket.queue, priority=self.ticket.priority, since=self.since,
                        queuedAt=self.carry.queuedAt or iso_utc(self.now),
                        waitStartedAt=self.carry.waitStartedAt or iso_utc(self.now))  # fmt: skip
        waited = carry.waited(self.now)
        left = self.ticket.max_queue_seconds - waited
        if self.ticket.max_queue_seconds == 0:
            raise LaunchFailed(f"{refusal.reason} (maxQueueSeconds is 0: the run does not wait)")
        if left <= 0:
            raise LaunchFailed(f"{refusal.reason}; so still after {waited} s queued, the run's maxQueueSeconds "
                               f"({self.ticket.max_queue_seconds})")  # fmt: skip
        if refusal.for_slot:
            retry = QUEUE_RETRY_SECONDS
        elif refusal.throttled:
            launch_at = self.queues.reserve_launch(self.now.timestamp(), LAUNCH_PACE_SECONDS)
            retry = max(math.ceil(launch_at - self.now.timestamp()), THROTTLED_RETRY_SECONDS)
        else:  # as long again as it has waited: a wake by a freed slot does not lengthen the wait after it
            waiting = int((self.now - parse_iso_utc(carry.waitStartedAt or iso_utc(self.now))).total_seconds())
            retry = min(max(waiting, FIRST_RETRY_SECONDS), QUEUE_RETRY_SECONDS)
        retry = max(min(retry, left), 1)
        # `freed` as this try saw it: room made since then (a slot given back while it decided) sends the run's
        # Wait For Slot straight back; a count read now would already include it, and the run would sleep
        usage = self.seen or self.queues.usage(self.ticket.queue)
        expires = int(self.now.timestamp()) + retry + WAIT_ENTRY_GRACE_SECONDS
        kind = PACED if refusal.throttled else None  # nothing wakes a throttled run before its launch time
        entry = self.entry if refusal.for_slot else wait_entry(self.ticket.priority, self.since, self.run_id, False,
                                                              kind)  # fmt: skip
        return replace(carry, tries=carry.tries + 1, reason=refusal.reason, forSlot=refusal.for_slot,
                       retrySeconds=retry, waitEntry=entry, freed=str(usage.freed),
                       waitExpiresAt=str(expires))  # fmt: skip

    def waited_seconds(self) -> int:
        """Seconds queued in all, at this launch."""
        return self.carry.waited(self.now)


def _recent(moment: str | None, now: datetime) -> bool:
    return moment is not None and (now - parse_iso_utc(moment)).total_seconds() < WOKEN_GRACE_SECONDS


def _duration(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{round(seconds / 60)} min"
