"""Start a run: validate, stage the script if it is too big for user data, launch, describe the launch."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from common import tags as tag
from common.capacity import Capacity
from common.keys import RUNS_PREFIX, STAGED_SCRIPT, RunKeys, s3_uri, split_s3_uri
from common.launch import DeadlineSource, Launch
from common.network import default_subnet, described_subnets, public_ip_on_launch, s3_reach
from common.pricing import Prices
from common.queues import Queues
from common.record import build_record, to_item
from common.run_input import ONE_YEAR_SECONDS, RunInput, parse_run_input
from common.secret_refs import check_secrets, refs_line
from common.state_reasons import in_one_line
from common.statuses import QUEUED, RUNNING
from common.timestamps import iso_utc, normalized

from .addresses import Address, associate, pool_of
from .budget import budget_for, refuse_a_budget_too_small
from .errors import InvalidInput, LaunchFailed
from .instances import LaunchSpec, find_launched, launch, launch_options, throttled
from .queueing import Carry, Gate, Queued, Ticket
from .secrets_check import refuse_secrets
from .settings import Settings
from .userdata import BootstrapConfig, fits, packed, render
from .watch_plan import GUARD_WINDOW_SECONDS, fewest_max_poll_seconds, fleet_poll_seconds, watch_windows

ATTEMPT_OVERHEAD_SECONDS = GUARD_WINDOW_SECONDS + 3600  # the guard's window, then launch, outcome and record
# execution names are at most 80 characters (StartExecution); a child adds "-a5-w1000-r8" at most (attempt,
# window, retry of its Watch Instance state)
WATCH_NAME_LENGTH = 80 - len("-a5-w1000-r8")


@dataclass(frozen=True)
class Attempt:
    """Where the run stands when this attempt launches: its number (0, or a relaunch's), the Spot interruptions so
    far, what the earlier attempts cost (USD) and how long the run waited queued before this attempt."""

    number: int = 0
    interruptions: int = 0
    spent_usd: float = 0.0
    queue_seconds: int = 0

    @classmethod
    def of(cls, carry: Carry) -> Attempt:
        return cls(carry.attempt, carry.interruptions, carry.spentUsd, carry.queueSeconds)


@dataclass(frozen=True)
class Execution:
    """The Step Functions execution the run belongs to (from the context object)."""

    arn: str
    name: str
    start_time: str = ""  # when it started (ISO 8601): where the run sorts among the others (record startedAt)


@dataclass(frozen=True)
class Queueing:
    """What launching through a queue needs: the stack's queues, the account's capacity, the workflow's carry."""

    queues: Queues
    capacity: Capacity
    carry: Carry

    def gate(self, run_input: RunInput, execution: Execution, now: datetime) -> Gate:
        ticket = Ticket(run_input.queue, run_input.priority, run_input.max_queue_seconds)
        return Gate(self.queues, self.capacity, ticket, execution.name, execution.arn, self.carry, now)


def start_run(
    raw_input: Any,
    execution: Execution,
    settings: Settings,
    ec2: Any,
    s3: Any,
    attempt: Attempt = Attempt(),
    started: datetime | None = None,
    prices: Prices | None = None,
    queueing: Queueing | None = None,
) -> dict[str, Any]:
    """Launch the instance for one attempt of a run and return what the workflow carries on with ("launch"), the
    run's record while it runs ("record", announced) and its Runs item ("item", written).

    started: when this attempt's launch began (the workflow's state entry, the same for every retry of it), so
    that a retried launch sends EC2 the same request: deadline, tags and user data included. From
    onDemandAfterInterruptions Spot interruptions on, attempts run on demand. prices: for maxCostUsd. queueing: to
    launch within the run's queue and the account's quotas, or answer a QUEUED record ("launch" None) and the
    "carry" of the wait."""
    run_input = parse_run_input(raw_input)
    run_id = execution.name
    keys = RunKeys(run_id)
    staged = s3_uri(settings.bucket, keys.key(STAGED_SCRIPT))
    if run_input.script_s3_uri == staged:  # staged by the client (too big for the input): checked as inline
        inline = {name: value for name, value in raw_input.items() if name != "scriptS3Uri"}
        run_input = parse_run_input({**inline, "script": _staged_script(s3, staged)})
    if run_input.script is not None:
        refuse_secrets(run_input.script)
    else:
        _require_object(s3, run_input.script_s3_uri, settings)
    check_secrets(run_input.secrets, ec2.meta.region_name, settings.granted_secrets)
    wanted = run_input.elastic_ip_allocation_ids or (["*"] if run_input.elastic_ip else [])
    pool = pool_of(ec2, wanted, settings.elastic_ip_allocation_ids)
    if pool and queueing is None:
        raise LaunchFailed("an Elastic IP is held with a queue slot, and this stack has no QueuesTable; deploy it "
                           "again")

    timeout, poll, max_poll = _timing(run_input, settings)
    image_id = run_input.image_id or settings.image_id
    instance_types = run_input.instance_types or settings.instance_types
    budget_left = None if run_input.max_cost_usd is None else run_input.max_cost_usd - attempt.spent_usd
    if budget_left is not None:
        refuse_a_budget_too_small(_required(prices), budget_left, instance_types, image_id, attempt.number > 0)
    launched_at = (started or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    deadline = launched_at + timedelta(seconds=timeout)
    config = BootstrapConfig(run_id, settings.bucket, keys.prefix, int(deadline.timestamp()), run_input.env,
                             run_input.script_s3_uri, attempt.number, run_input.stall_seconds,
                             run_input.on_stall, run_input.hold_on_failure_seconds,
                             refs_line(run_input.secrets), " ".join(a.public_ip for a in pool))  # fmt: skip
    user_data = _user_data(run_input, config, s3)
    tags = {
        **run_input.tags,
        "Name": run_input.tags.get("Name", f"longtask-{run_id}"),
        tag.RUN_ID: run_id,
        tag.EXECUTION_ARN: execution.arn,
        tag.DEADLINE: iso_utc(deadline),
        tag.STACK: settings.stack_name,
    }
    spec = LaunchSpec(
        client_token_seed=f"{execution.arn}#{attempt.number}" + (f"#{queueing.carry.tries}" if queueing else ""),
        image_id=image_id,
        user_data=packed(user_data),
        instance_profile_arn=settings.instance_profile_arn,
        security_group_ids=settings.security_group_ids,
        tags=tags,
        associate_public_ip_address=run_input.associate_public_ip_address,
        hop_limit=run_input.http_put_response_hop_limit,
    )
    network_note, subnets = "", []
    gate = None if queueing is None else queueing.gate(run_input, execution, launched_at)
    try:
        launched = find_launched(ec2, execution.arn)
        if launched is None:
            subnets, network_note = _subnets_reaching_s3(ec2, run_input.subnet_ids or settings.subnet_ids, spec)
            spot = run_input.spot and attempt.interruptions < run_input.on_demand_after_interruptions
            options = launch_options(instance_types, [s["SubnetId"] for s in subnets], spot)
            launched = launch(ec2, spec, options) if gate is None else gate.launch(
                options, lambda allowed: launch(ec2, spec, allowed), pool)  # fmt: skip
    except Queued as refusal:
        return _queued(execution, run_input, gate.queued(refusal))  # only a gate queues a run
    except ClientError as error:  # EC2 (or Service Quotas) throttled a look before the launch: wait, never fail
        if gate is None or not throttled(error):
            raise
        busy = Queued(f"EC2 throttled {error.operation_name} ({error.response['Error']['Code']})", for_slot=False,
                      throttled=True)  # fmt: skip
        return _queued(execution, run_input, gate.queued(busy))
    elastic_ip = _associate_claimed(ec2, queueing, run_input.queue, run_id, launched.instance_id, pool)
    subnet = _subnet_of(ec2, launched.subnet_id, subnets)
    public_ip = bool(elastic_ip) or public_ip_on_launch(subnet, run_input.associate_public_ip_address)
    deadline_source, budget = DeadlineSource.TIMEOUT, {}
    if budget_left is not None:
        zone = subnet.get("AvailabilityZone")
        budgeted = budget_for(_required(prices), launched, zone, image_id, public_ip, budget_left)
        budget = {"max_cost_usd": run_input.max_cost_usd, "spent_usd": attempt.spent_usd,
                  "rate": budgeted.rate.as_dict()}  # fmt: skip
        if budgeted.seconds < timeout:  # the budget runs out first: its moment is the deadline the guard keeps
            deadline = launched_at + timedelta(seconds=budgeted.seconds)
            deadline_source = DeadlineSource.BUDGET
    if queueing is not None:
        poll, max_poll = fleet_poll_seconds(poll, max_poll, queueing.capacity.running())
    windows = watch_windows(launched_at, deadline, poll, max_poll)
    uris = keys.uris(settings.bucket)
    state = Launch(
        run_id=run_id,
        execution_arn=execution.arn,
        instance_id=launched.instance_id,
        instance_type=launched.instance_type,
        subnet_id=launched.subnet_id,
        spot=launched.spot,
        launched_at=iso_utc(launched_at),
        deadline=iso_utc(deadline),
        log_uri=uris["logUri"],
        live_log_uri=uris["liveLogUri"],
        result_uri=uris["resultUri"],
        artifacts_uri=uris["artifactsUri"],
        attempt=attempt.number,
        interruptions=attempt.interruptions,
        retries=run_input.retries,
        retry_on_exit_codes=run_input.retry_on_exit_codes,
        retry_backoff_seconds=run_input.retry_backoff_seconds,
        watch_name=watch_name(run_id),
        windows=windows,
        window_count=len(windows),
        launch_attempts=launched.attempts,
        network_note=network_note,
        public_ip=public_ip,
        deadline_source=deadline_source,
        queue=run_input.queue,
        priority=run_input.priority,
        queue_seconds=attempt.queue_seconds if gate is None else gate.waited_seconds(),
        elastic_ip=elastic_ip,
        started_at=_iso(execution.start_time),
        **budget,
    )
    run = state.as_dict()
    record = build_record(run_id, RUNNING, None, run)
    return {"launch": run, "record": record, "item": to_item(record), "carry": None}


def _associate_claimed(ec2: Any, queueing: Queueing | None, queue: str, run_id: str, instance_id: str,
                       pool: list[Address]) -> str:  # fmt: skip
    """The Elastic IP the run's slot holds, associated with its instance ("" without a pool). When EC2 refuses,
    the instance is terminated and the slot and address given back: the run fails with EC2's reason."""
    if not pool or queueing is None:
        return ""
    slot = queueing.queues.slot(queue, run_id)
    allocation_id = slot.address if slot else None
    address = next((a for a in pool if a.allocation_id == allocation_id), None)
    try:
        if address is None:
            raise LaunchFailed(f"the run's slot holds no address of its pool ({allocation_id})")
        associate(ec2, address.allocation_id, instance_id)
    except (ClientError, LaunchFailed) as error:
        ec2.terminate_instances(InstanceIds=[instance_id])
        queueing.queues.release(queue, run_id)
        detail = in_one_line(error.response["Error"]["Code"], error.response["Error"]["Message"]) if isinstance(
            error, ClientError) else str(error)  # fmt: skip
        raise LaunchFailed(f"could not associate the Elastic IP {allocation_id} with {instance_id} ({detail}); "
                           "the instance was terminated") from None  # fmt: skip
    return address.public_ip


def _queued(execution: Execution, run_input: RunInput, carry: Carry) -> dict[str, Any]:
    """What the workflow carries on with while the run waits: no launch, a QUEUED record (its execution, for the
    reaper to settle it), the carry."""
    record = build_record(execution.name, QUEUED, None, executionArn=execution.arn,
                          startedAt=_iso(execution.start_time), queue=run_input.queue,
                          priority=run_input.priority, queuedAt=carry.queuedAt,
                          waitReason=carry.wait_reason())  # fmt: skip
    return {"launch": None, "record": record, "item": to_item(record), "carry": carry.as_dict()}


def _iso(moment: str) -> str | None:
    """A context object's time (2026-12-07T07:00:00.123Z) in the contract's format, or None when not given."""
    return normalized(moment) if moment else None


def _required(prices: Prices | None) -> Prices:
    if prices is None:
        raise LaunchFailed("maxCostUsd needs prices, and the launcher was given no way to look them up")
    return prices


def watch_name(run_id: str) -> str:
    """The prefix of the watcher children's names ("<prefix>-a<attempt>-w<window>-r<retry>", at most 12 more):
    the run id, shortened with a hash of it when the whole name could pass Step Functions' 80 characters."""
    if len(run_id) <= WATCH_NAME_LENGTH:
        return run_id
    return f"{run_id[: WATCH_NAME_LENGTH - 9]}-{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"


def _subnets_reaching_s3(ec2: Any, subnet_ids: list[str], spec: LaunchSpec) -> tuple[list[dict[str, Any]], str]:
    """The subnets (the default one when none is given) whose instances can reach S3, as described, and what could
    not be checked; LaunchFailed when none can, since such a run could never report."""
    if subnet_ids:
        subnets = described_subnets(ec2, subnet_ids)
    else:
        default = default_subnet(ec2)
        if default is None:
            raise LaunchFailed("no subnetIds given and the account has no default VPC; set the stack's SubnetIds")
        subnets = [default]
    usable, refused, unchecked = [], [], []
    for subnet in subnets:
        reach = s3_reach(ec2, subnet, spec.security_group_ids, spec.associate_public_ip_address)
        if not reach.reachable:
            refused.append(reach.note)
            continue
        usable.append(subnet)
        if reach.unchecked:
            unchecked.append(reach.note)
    if not usable:
        why = "; ".join(refused)
        raise LaunchFailed(f"no route to S3, so the instance could never fetch its script or report: {why}")
    return usable, "; ".join(unchecked)


def _subnet_of(ec2: Any, subnet_id: str, described: list[dict[str, Any]]) -> dict[str, Any]:
    """The launched instance's subnet: as described before the launch, else (a launch found again) as EC2
    describes it now; {} when EC2 did not say."""
    if not subnet_id:
        return {}
    return next((s for s in described if s["SubnetId"] == subnet_id), None) or described_subnets(ec2, [subnet_id])[0]


def _timing(run_input: RunInput, settings: Settings) -> tuple[int, int, int]:
    """(timeoutSeconds, pollSeconds, maxPollSeconds) of the run, its own or the stack's defaults."""
    timeout = run_input.timeout_seconds or settings.timeout_seconds
    attempts = run_input.retries + 1  # each relaunch gets a fresh deadline, after its backoff
    backoff = run_input.retry_backoff_seconds * (2**run_input.retries - 1)
    queued = run_input.max_queue_seconds  # timeoutSeconds counts from launch: time queued comes on top
    longest = ((ONE_YEAR_SECONDS - backoff - queued) // attempts) - ATTEMPT_OVERHEAD_SECONDS
    if timeout > longest:
        raise InvalidInput(
            f"timeoutSeconds: {timeout} with {run_input.retries} retries could outlive the execution (a Standard "
            f"workflow lasts at most one year, and each attempt needs about {ATTEMPT_OVERHEAD_SECONDS} s more for "
            f"launch, guard and outcome, plus {backoff} s of retry backoff and up to {queued} s queued "
            f"(maxQueueSeconds)); use at most {longest}"
        )
    if run_input.stall_seconds is not None and run_input.stall_seconds >= timeout:
        raise InvalidInput(f"stallSeconds: {run_input.stall_seconds} is not within timeoutSeconds {timeout}; a stall "
                           "is silence shorter than the run may last")  # fmt: skip
    if run_input.hold_on_failure_seconds is not None and run_input.hold_on_failure_seconds >= timeout:
        raise InvalidInput(f"holdOnFailureSeconds: {run_input.hold_on_failure_seconds} is not within timeoutSeconds "
                           f"{timeout}; a hold never outlasts the run's deadline")  # fmt: skip
    poll = run_input.poll_seconds or settings.poll_seconds
    max_poll = max(run_input.max_poll_seconds or settings.max_poll_seconds, poll)
    fewest = fewest_max_poll_seconds(timeout, attempts)
    if max_poll < fewest:
        raise InvalidInput(
            f"maxPollSeconds: {max_poll} is too small for timeoutSeconds {timeout} with {run_input.retries} retries "
            f"(every attempt's polling windows share the execution's 25,000 history events); use at least {fewest}"
        )
    return timeout, poll, max_poll


def _user_data(run_input: RunInput, config: BootstrapConfig, s3: Any) -> str:
    """Inline the script when it fits in 16 KB of user data; otherwise stage it in S3 and fetch it."""
    if run_input.script is not None:
        user_data = render(config, inline_script=run_input.script)
        if fits(user_data):
            return user_data
        staged_key = RunKeys(config.run_id).key(STAGED_SCRIPT)
        s3.put_object(Bucket=config.bucket, Key=staged_key, Body=run_input.script.encode())
        config = replace(config, script_uri=f"s3://{config.bucket}/{staged_key}")
    user_data = render(config, inline_script=None)
    if not fits(user_data):
        raise InvalidInput("env: the variables make the user data larger than 16 KB; pass large values through S3")
    return user_data


def _staged_script(s3: Any, uri: str) -> str:
    bucket, key = split_s3_uri(uri)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except ClientError as error:
        raise InvalidInput(f"scriptS3Uri: cannot read the staged script {uri} ({error.response['Error']['Code']}); "
                           "start the run again") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"scriptS3Uri: the staged script {uri} is not UTF-8 text") from None


def _require_object(s3: Any, uri: str | None, settings: Settings) -> None:
    """InvalidInput unless the script can be read. The launcher may read exactly what the instances may (its
    CheckScriptSource policy mirrors InstanceRole), so a script it can read, the instance can fetch."""
    bucket, key = split_s3_uri(uri or "")
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if bucket == settings.bucket and code in ("403", "AccessDenied"):
            where = " and ".join(f"{prefix}*" for prefix in (RUNS_PREFIX, settings.script_upload_prefix) if prefix)
            raise InvalidInput(f"scriptS3Uri: {uri} is in the stack's artifact bucket, where the instances may "
                               f"read only {where}; upload the script there"
                               + ("" if settings.script_upload_prefix else " (or set ScriptUploadPrefix)")) from None
        raise InvalidInput(f"scriptS3Uri: cannot read {uri} ({code}); check the bucket, the key and access") from None
