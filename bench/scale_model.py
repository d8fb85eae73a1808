"""Scale on paper (issue 38): the calls a run makes (scale_calls.py, measured on the engine) against the limits AWS
publishes, for N runs started in a burst or at a steady rate. Each limit cites its page. What it leaves out is in
docs/scale.md.

Two designs are modelled, the one before issue 38 and the one now; they differ only where the model found a limit
binding before the instance quota (the `Design` fields).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from launcher.queueing import LAUNCH_PACE_SECONDS, THROTTLED_RETRY_SECONDS
from launcher.watch_plan import fleet_poll_seconds, watch_windows
from longtask_engine.in_localstack.limits import RESOURCE, bucket_shape

from .cost_model import PRICE_PER_TRANSITION, poll_counts
from .scale_calls import Calls, Profile

EC2_PAGE = "https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html"
SFN_PAGE = "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"
EVENTS_PAGE = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
S3_PAGE = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html"
DDB_PAGE = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
DDB_TABLE_PAGE = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"

# Step Functions' token buckets in us-east-1, us-west-2 and eu-west-1 (size, refill a second); other Regions have
# smaller ones. The page warns that AWS may raise them at any time.
SFN_BUCKETS = {"StartExecution": (1300, 300), "DescribeExecution": (300, 15), "SendTaskSuccess": (3000, 500),
               "ListExecutions": (200, 5), "StateTransition": (5000, 1500)}  # fmt: skip
# per account and Region, by default (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html)
LAMBDA_CONCURRENCY = 1000
EVENTS_PUT_EVENTS = 10_000  # PutEvents requests a second, us-east-1
S3_PREFIX = {"PUT": 3500, "GET": 5500}  # requests a second per prefix (each run writes under its own)
DDB_PARTITION_WRU = 1000  # write units a second on one partition: one item, such as a queue's count
DDB_TABLE_UNITS = 40_000  # read or write units a second per on-demand table (the account's default table quota)

# Prices in us-east-1 (USD): https://aws.amazon.com/step-functions/pricing/, https://aws.amazon.com/lambda/pricing/,
# https://aws.amazon.com/dynamodb/pricing/on-demand/, https://aws.amazon.com/s3/pricing/,
# https://aws.amazon.com/eventbridge/pricing/, https://aws.amazon.com/ec2/pricing/on-demand/
PRICE = {"lambda request": 0.20e-6, "lambda GB-s": 0.0000166667, "write unit": 0.625e-6, "read unit": 0.125e-6,
         "s3 PUT": 0.005e-3, "s3 GET": 0.0004e-3, "event": 1.00e-6, "t3a.nano hour": 0.0047}  # fmt: skip
# What the model assumes where the engine cannot measure AWS: a function's duration on AWS (seconds, at 256 MB), an
# item of 1 KB or less (one unit a write, half a unit a read), output growing all the time (one live log chunk each
# LONGTASK_LOG_INTERVAL), the AWS defaults of the watch (pollSeconds 30 doubling to maxPollSeconds 3600)
FUNCTION_SECONDS, FUNCTION_GB = 1.0, 0.25
LOG_CHUNK_SECONDS = 30
SWEEP_SECONDS = 300  # the reaper's schedule (template.yaml)
POLL, MAX_POLL = 30, 3600


@dataclass(frozen=True)
class Design:
    """What the model compares: before issue 38, and now."""

    name: str
    lambda_retry: tuple[float, int, bool]  # the workflow's retry of a throttled invocation: first interval, tries,
    # jittered; and then (pause) a random pause and again, or (None) the run fails
    lambda_pause: tuple[int, int] | None
    describe_throttle_fails: bool  # a throttled look before the launch failed the run (after 3 invocations)
    held_when_throttled: float  # seconds a throttled launch held its Lambda environment (in-function backoff)
    paced: bool  # throttled runs come back at EC2's refill pace (else 5-20 s at random)
    sweep_describes: float  # DescribeExecution calls a sweep makes per live run
    sweep_lists: float  # ListExecutions pages a sweep reads per live run
    fleet_polls: bool  # a run's first poll interval stretches with the instances running (watch_plan.py)


BEFORE = Design("before", (2, 7, False), None, True, 1 + 1 + 2 + 4 + 8, False, 3, 0, False)
NOW = Design("now", (1, 4, True), (2, 20), False, 1 + 1, True, 0, 1 / 1000, True)
# What the engine calls where AWS would not: LocalStack looks at a `.sync` child with DescribeExecution every
# second or so; AWS ends the task from the child's status event (its managed rule) and says nothing of polling
ENGINE_ONLY = {("LongTaskStateMachineRole", "stepfunctions:DescribeExecution")}
DESIGNS = (BEFORE, NOW)


@dataclass(frozen=True)
class Limit:
    """A published limit: a token bucket (size, refill a second) or a ceiling (size only, refill 0: concurrency)."""

    name: str
    page: str
    size: float
    refill: float
    per_prefix: bool = False  # S3's rates are per prefix, and each run writes under its own: N does not add up


def ec2_limits(actions: dict[str, float]) -> list[Limit]:
    """A request bucket for each EC2 action the runs call, and RunInstances' resource bucket (instances)."""
    limits = [Limit(f"EC2 {a.removeprefix('ec2:')}", EC2_PAGE, *bucket_shape(a.removeprefix("ec2:")))
              for a in sorted(actions) if a.startswith("ec2:")]  # fmt: skip
    return [*limits, Limit("EC2 RunInstances (instances)", EC2_PAGE, *bucket_shape("RunInstances" + RESOURCE))]


def tokens(limit: Limit, calls: Calls, instances: float) -> float:
    """What `calls` (of `instances` launches) draw from the limit; Lambda's concurrency is counted apart."""
    actions = calls.actions()
    if limit.name == "EC2 RunInstances (instances)":
        return instances
    if limit.name.startswith("EC2 "):
        return actions.get("ec2:" + limit.name.removeprefix("EC2 "), 0)
    if limit.name == "Step Functions StateTransition":
        return calls.transitions
    if limit.name.startswith("Step Functions "):
        return actions.get("stepfunctions:" + limit.name.removeprefix("Step Functions "), 0)
    if limit.name == "EventBridge PutEvents":
        return actions.get("events:PutEvents", 0)
    if limit.name == "DynamoDB table units":
        return sum(v for a, v in actions.items() if a.startswith("dynamodb:"))
    if limit.name == "DynamoDB a queue's item (writes)":  # a transaction writes it at 2 units (acquire, release)
        return 2 * actions.get("dynamodb:TransactWriteItems", 0)
    if limit.name == "S3 PUT per run prefix":
        return sum(actions.get(a, 0) for a in ("s3:PutObject", "s3:CopyObject"))
    if limit.name == "S3 GET per run prefix":
        return sum(actions.get(a, 0) for a in ("s3:GetObject", "s3:ListObjectsV2"))
    return 0.0


def limits(profile: Profile) -> list[Limit]:
    every: dict[str, float] = {}
    for part in (profile.run, profile.poll, profile.window, profile.wait, profile.relaunch):
        every.update(part.actions())
    return [
        *ec2_limits(every),
        *(Limit(f"Step Functions {name}", SFN_PAGE, *shape) for name, shape in SFN_BUCKETS.items()),
        Limit("EventBridge PutEvents", EVENTS_PAGE, EVENTS_PUT_EVENTS, EVENTS_PUT_EVENTS),
        Limit("DynamoDB table units", DDB_TABLE_PAGE, DDB_TABLE_UNITS, DDB_TABLE_UNITS),
        Limit("DynamoDB a queue's item (writes)", DDB_PAGE, DDB_PARTITION_WRU, DDB_PARTITION_WRU),
        Limit("S3 PUT per run prefix", S3_PAGE, S3_PREFIX["PUT"], S3_PREFIX["PUT"], per_prefix=True),
        Limit("S3 GET per run prefix", S3_PAGE, S3_PREFIX["GET"], S3_PREFIX["GET"], per_prefix=True),
    ]


def launch_calls(profile: Profile) -> Calls:
    """A run's calls at its launch: the launcher's, the user's StartExecution, the workflow's invocation of the
    launcher and its first watch window (the rest come while it runs and when it ends)."""
    launcher = {k: v for k, v in profile.run.requests.items() if k[0] == "LauncherFunctionRole"}
    start = {("caller", "stepfunctions:StartExecution"): 1.0, ("LongTaskStateMachineRole", "lambda:Invoke"): 1.0,
             ("LongTaskStateMachineRole", "stepfunctions:StartExecution"): 1.0}  # fmt: skip
    return Calls({**launcher, **start}, 8)  # 8: Start Run to Watch Instance and the watcher's first states


def run_calls(profile: Profile, seconds: int, design: Design, running: int = 0) -> tuple[Calls, float]:
    """A whole run of this length on the AWS defaults beside `running` others (polls, windows, the sweep's share),
    and the S3 PUTs of its live log."""
    poll, max_poll = fleet_poll_seconds(POLL, MAX_POLL, running) if design.fleet_polls else (POLL, MAX_POLL)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    windows = watch_windows(start, start + timedelta(seconds=seconds), poll, max_poll)[:-1]
    polls = sum(poll_counts(start, windows))
    sweeps = seconds / SWEEP_SECONDS
    sweep = Calls({("ReaperFunctionRole", "stepfunctions:DescribeExecution"): design.sweep_describes * sweeps,
                   ("ReaperFunctionRole", "stepfunctions:ListExecutions"): design.sweep_lists * sweeps})  # fmt: skip
    whole = profile.run.plus(profile.poll, polls).plus(profile.window, len(windows)).plus(sweep)
    whole.requests = {k: v for k, v in whole.requests.items() if k not in ENGINE_ONLY}
    return whole, seconds / LOG_CHUNK_SECONDS


def steady_load(profile: Profile, n: int, seconds: int, design: Design) -> dict[str, float]:
    """Each limit's load (a fraction of its refill) with n runs of this length always running (a run ends and
    another starts: n / seconds starts a second), and Lambda's concurrency."""
    whole, _ = run_calls(profile, seconds, design, n)
    rate = n / seconds
    loads = {limit.name: (1 / seconds if limit.per_prefix else rate) * tokens(limit, whole, 1) / limit.refill
             for limit in limits(profile)}  # fmt: skip
    invocations = sum(v for (_, a), v in whole.requests.items() if a == "lambda:Invoke")
    loads["Lambda concurrency"] = rate * invocations * FUNCTION_SECONDS / LAMBDA_CONCURRENCY
    return loads


@dataclass
class Launches:
    """How a start of many runs went, in the model's seconds."""

    seconds: float = 0  # until the last launched (or failed)
    launched: float = 0
    failed: float = 0  # ended LAUNCH_FAILED because the control plane was busy
    past_max_queue: float = 0  # launched later than maxQueueSeconds after their start: LAUNCH_FAILED instead
    peak_concurrency: float = 0  # Lambda environments busy at once
    refused: float = 0  # calls EC2 throttled
    invocations: float = 0  # the launcher's, all tries


class _Bucket:
    def __init__(self, size: float, refill: float) -> None:
        self.size, self.refill, self.level = size, refill, size

    def tick(self) -> None:
        self.level = min(self.size, self.level + self.refill)

    def take(self, wanted: float) -> float:
        got = min(wanted, self.level)
        self.level -= got
        return got


class _Launching:
    """The launches second by second, as expected counts (a fraction of a run is fine)."""

    def __init__(self, profile: Profile, design: Design) -> None:
        launch = launch_calls(profile).actions()
        self.order = [a for a in EC2_ORDER if launch.get("ec2:" + a)]
        self.buckets = {a: _Bucket(*bucket_shape(a)) for a in self.order}
        self.instances = _Bucket(*bucket_shape("RunInstances" + RESOURCE))
        self.starts = _Bucket(*SFN_BUCKETS["StartExecution"])
        self.design, self.result = design, Launches()
        # second -> (Lambda tries, failed invocations) -> runs due then
        self.due: dict[int, dict[tuple[int, int], float]] = defaultdict(lambda: defaultdict(float))
        self.freed: dict[int, float] = defaultdict(float)  # second -> Lambda environments freed then
        self.busy, self.next_at = 0.0, 0.0
        self.launched_at: list[float] = []  # launches each second

    def later(self, t: int, count: float, low: float, high: float, tries: int = 0, errors: int = 0) -> None:
        """count runs come back spread evenly over the seconds from t + low to t + high."""
        first = t + max(1, math.ceil(low))
        last = max(first, t + math.floor(high))
        for second in range(first, last + 1):
            self.due[second][(tries, errors)] += count / (last - first + 1)

    def hold(self, t: int, count: float, seconds: float) -> None:
        self.busy += count
        self.freed[t + max(1, math.ceil(seconds))] += count
        self.result.peak_concurrency = max(self.result.peak_concurrency, self.busy)

    def second(self, t: int, arriving: float) -> float:
        """One second: the launcher invocations due run as far as Lambda and EC2 let them; returns the starts
        Step Functions accepted."""
        for bucket in (*self.buckets.values(), self.instances, self.starts):
            bucket.tick()
        self.busy -= self.freed.pop(t, 0.0)
        accepted = self.starts.take(arriving)  # the caller tries again the next second
        if accepted:
            self.due[t][(0, 0)] += accepted
        launched = 0.0
        for (tries, errors), count in sorted(self.due.pop(t, {}).items()):
            ran = min(count, max(LAMBDA_CONCURRENCY - self.busy, 0.0))
            self._refused_by_lambda(t, count - ran, tries, errors)
            self.result.invocations += ran
            launched += self._invoke(t, ran, errors)
        self.launched_at.append(launched)
        self.result.launched += launched
        return accepted

    def _refused_by_lambda(self, t: int, count: float, tries: int, errors: int) -> None:
        if count <= 0:
            return
        interval, attempts, jitter = self.design.lambda_retry
        if tries + 1 < attempts:
            delay = interval * 2**tries
            self.later(t, count, 0 if jitter else delay, delay, tries + 1, errors)
        elif self.design.lambda_pause is not None:
            self.later(t, count, *self.design.lambda_pause, errors=errors)
        else:
            self.result.failed += count

    def _invoke(self, t: int, count: float, errors: int) -> float:
        """The launcher's calls in order; returns how many launched."""
        through = count
        for action in self.order:
            got = self.buckets[action].take(through)
            if action == "RunInstances":
                got = self.instances.take(got)
            throttled, through = through - got, got
            self.result.refused += throttled
            if throttled:
                self._throttled(t, throttled, action, errors)
        self.hold(t, through, FUNCTION_SECONDS)
        return through

    def _throttled(self, t: int, count: float, action: str, errors: int) -> None:
        design = self.design
        held = design.held_when_throttled if action == "RunInstances" else FUNCTION_SECONDS
        self.hold(t, count, held)
        if action != "RunInstances" and design.describe_throttle_fails:  # the workflow's States.ALL retry: twice
            if errors < 2:
                self.later(t, count, held + 2 * 2**errors, held + 2 * 2**errors, 0, errors + 1)
            else:
                self.result.failed += count
        elif design.paced:
            first = max(self.next_at, t)
            self.next_at = first + count * LAUNCH_PACE_SECONDS
            low = max(THROTTLED_RETRY_SECONDS, first - t)
            self.later(t, count, low, max(low, self.next_at - t))
        else:
            self.later(t, count, held + 5, held + 20)


EC2_ORDER = ("DescribeInstances", "DescribeSubnets", "DescribeSecurityGroups", "DescribeRouteTables",
             "DescribeVpcEndpoints", "RunInstances")  # the launcher's calls, in the order it makes them  # fmt: skip


def simulate_launches(profile: Profile, n: int, per_second: float | None, design: Design,
                      max_queue_seconds: int = 21600, horizon: int = 400_000) -> Launches:  # fmt: skip
    """n runs started at once (per_second None) or at a steady rate: the callers' StartExecution (tried again
    while throttled), Lambda's concurrency, EC2's buckets for the launcher's calls in the order it makes them,
    and what the design does on each refusal."""
    model = _Launching(profile, design)
    waiting = 0.0
    for t in range(horizon):
        waiting += (n if t == 0 else 0) if per_second is None else (per_second if t < n / per_second else 0)
        waiting -= model.second(t, waiting)
        result = model.result
        if result.launched + result.failed >= n - 1e-6 and not model.due and waiting < 1e-9:
            result.seconds = t
            break
    else:
        model.result.seconds = horizon
    model.result.past_max_queue = _late(n, per_second, model.launched_at, max_queue_seconds)
    return model.result


def _late(n: int, per_second: float | None, launched_at: list[float], max_queue_seconds: int) -> float:
    """Runs launched more than maxQueueSeconds after their start, taking the runs first come, first launched."""
    late, done = 0.0, 0.0
    for t, count in enumerate(launched_at):
        too_long_ago = max(t - max_queue_seconds, 0)  # runs started before this second have waited too long
        started_then = (n if too_long_ago else 0) if per_second is None else min(n, too_long_ago * per_second)
        late += min(count, max(started_then - done, 0.0))
        done += count
    return late


WRITES = {"dynamodb:PutItem": 1, "dynamodb:UpdateItem": 1, "dynamodb:DeleteItem": 1, "dynamodb:TransactWriteItems": 4}
READS = {"dynamodb:GetItem": 0.5, "dynamodb:Query": 0.5, "dynamodb:Scan": 0.5}  # eventually consistent, 1 KB


def cost_per_run(profile: Profile, seconds: int, design: Design = NOW) -> dict[str, Any]:
    """A run's control-plane charges beside its instance's (a t3a.nano on demand), USD."""
    whole, log_chunks = run_calls(profile, seconds, design)
    actions = whole.actions()
    invocations = actions.get("lambda:Invoke", 0)
    parts = {
        "state transitions": whole.transitions * PRICE_PER_TRANSITION,
        "Lambda": invocations * (PRICE["lambda request"] + FUNCTION_SECONDS * FUNCTION_GB * PRICE["lambda GB-s"]),
        "DynamoDB": sum(actions.get(a, 0) * u for a, u in WRITES.items()) * PRICE["write unit"]
        + sum(actions.get(a, 0) * u for a, u in READS.items()) * PRICE["read unit"],
        "S3": (actions.get("s3:PutObject", 0) + actions.get("s3:CopyObject", 0) + actions.get("s3:ListObjectsV2", 0)
               + log_chunks) * PRICE["s3 PUT"] + actions.get("s3:GetObject", 0) * PRICE["s3 GET"],
        "EventBridge": actions.get("events:PutEvents", 0) * PRICE["event"],
    }  # fmt: skip
    return {**parts, "control plane": sum(parts.values()), "EC2 t3a.nano": seconds / 3600 * PRICE["t3a.nano hour"]}


def limit_table(profile: Profile, seconds: int = 3600) -> list[dict[str, Any]]:
    """Each limit: what a run draws at its launch and over its life, the N at which it binds (a burst of N
    launches; N runs of this length always running), and its load with 10,000 running, before and now."""
    launch = launch_calls(profile)
    rows = []
    for limit in limits(profile):
        per_run = {d.name: tokens(limit, run_calls(profile, seconds, d, 10_000)[0], 1) for d in DESIGNS}
        at_launch = tokens(limit, launch, 1)
        if not any(per_run.values()):
            continue
        rows.append({
            "limit": limit.name, "bucket": f"{limit.size:,.0f} + {limit.refill:,.0f}/s", "page": limit.page,
            "per launch": round(at_launch, 2), "per 1-hour run (10,000 running)": round(per_run["now"], 2),
            "burst binds at N": f"{limit.size / at_launch:,.0f}" if at_launch and not limit.per_prefix else "-",
            "running binds at N": "-" if limit.per_prefix else _binds_at(profile, limit, seconds),
            "load, 10,000 running (before → now)": " → ".join(
                f"{(1 if limit.per_prefix else 10_000) / seconds * per_run[d.name] / limit.refill:.0%}"
                for d in DESIGNS),
            "load, 10 starts/s": f"{10 * at_launch / limit.refill:.0%}",
        })  # fmt: skip
    return rows


def _binds_at(profile: Profile, limit: Limit, seconds: int) -> str:
    """The fewest runs of this length always running that load the limit past its refill, now ("-": none up to
    a million)."""
    n = 100
    while n <= 1_000_000:
        if n / seconds * tokens(limit, run_calls(profile, seconds, NOW, n)[0], 1) > limit.refill:
            return f"{n:,}"
        n = round(n * 1.25)
    return "-"


def scale_table(profile: Profile, sizes: tuple[int, ...] = (100, 1_000, 10_000, 100_000)) -> list[dict[str, Any]]:
    """N runs started in a burst or at 10 a second, in each design: how long the launches take, how many runs
    fail for a busy control plane, how many wait past maxQueueSeconds (6 h), Lambda's peak; and the busiest limit
    while N one-hour runs run."""
    rows = []
    for started, per_second in (("burst", None), ("10 a second", 10.0)):
        for n in sizes:
            before, now = (simulate_launches(profile, n, per_second, d) for d in (BEFORE, NOW))
            loads = {d.name: steady_load(profile, n, 3600, d) for d in DESIGNS}
            busiest = {name: max(load, key=load.__getitem__) for name, load in loads.items()}
            rows.append({
                "runs": f"{n:,}", "started": started,
                "launches take": f"{_duration(before.seconds)} → {_duration(now.seconds)}",
                "failed (busy)": f"{before.failed:,.0f} → {now.failed:,.0f}",
                "past maxQueueSeconds": f"{before.past_max_queue:,.0f} → {now.past_max_queue:,.0f}",
                "peak Lambda": f"{before.peak_concurrency:,.0f} → {now.peak_concurrency:,.0f}",
                "EC2 calls refused": f"{before.refused:,.0f} → {now.refused:,.0f}",
                "busiest limit running (before → now)": f"{busiest['before']} {loads['before'][busiest['before']]:.0%}"
                f" → {busiest['now']} {loads['now'][busiest['now']]:.0%}",
            })  # fmt: skip
    return rows


def cost_table(profile: Profile) -> list[dict[str, Any]]:
    rows = []
    for label, seconds in (("trivial (1 min)", 60), ("1 hour", 3600), ("30 days", 30 * 86400)):
        cost = cost_per_run(profile, seconds)
        rows.append({"run": label, **{k: f"${v:,.5f}" for k, v in cost.items()}})
    return rows


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def calls_table(profile: Profile) -> list[dict[str, Any]]:
    """The measured calls by principal and action: per run, per poll, per window, per queued try, per relaunch."""
    parts = {"per run": profile.run, "per poll": profile.poll, "per window": profile.window,
             "per queued try": profile.wait, "per Spot relaunch": profile.relaunch}  # fmt: skip
    keys = sorted({k for part in parts.values() for k in part.requests})
    rows = [{"principal": p, "action": a, **{name: round(part.requests.get((p, a), 0), 2)
                                            for name, part in parts.items()}} for p, a in keys]  # fmt: skip
    rows.append({"principal": "(Step Functions)", "action": "state transitions",
                 **{name: round(part.transitions, 2) for name, part in parts.items()}})  # fmt: skip
    return rows
