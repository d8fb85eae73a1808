"""Decide a run's final status from the launch, the watch and what the instance reported."""

from __future__ import annotations

from typing import Any

from common.keys import split_s3_uri
from common.launch import DeadlineSource, Launch
from common.pricing import Prices, Rate
from common.record import build_record
from common.state_reasons import OWN_SHUTDOWN, SPOT_RECLAIMED, in_one_line
from common.statuses import (
    BUDGET_EXCEEDED,
    FAILED,
    INSTANCE_ERRORS,
    INVALID_INPUT,
    LAUNCH_FAILED,
    NO_RESULT,
    RELAUNCHING,
    STALLED,
    SUCCEEDED,
    TIMED_OUT,
)
from common.timestamps import normalized

from .artifacts import attempt_summary, keep_attempt, read_attempts, read_log_tail, read_result
from .cost import cost_of_attempt, totals
from .instance import ensure_terminated
from .record import finish, lambda_error_message


def collect(run_id: str, run: dict[str, Any], s3: Any, ec2: Any, prices: Prices, started_at: str | None = None
            ) -> dict[str, Any]:  # fmt: skip
    """The final record for a run, from the workflow's state (launch, watch, watched, or error); "unpriced" says
    why the attempt's cost is missing, if it is. started_at: when the execution started (ISO 8601)."""
    if run.get("launch") is None:
        error = run.get("error") or {}
        status = INVALID_INPUT if error.get("Error") == "InvalidInput" else LAUNCH_FAILED
        started = {"startedAt": normalized(started_at)} if started_at else {}
        return {**finish(build_record(run_id, status, lambda_error_message(error), **started)), "unpriced": ""}
    launch = Launch.from_dict(run["launch"])

    ended = ensure_terminated(ec2, launch.instance_id)
    reason_code, reason_message = ended.code, ended.message
    cost, unpriced = cost_of_attempt(prices, launch, ended)
    attempt = launch.attempt
    result = read_result(s3, *split_s3_uri(launch.result_uri))
    if result is not None and result.get("attempt", attempt) != attempt:
        result = None  # an earlier attempt's report: this one never wrote its own
    # a script stopped by a Spot notice is interrupted even where the instance then ended itself (its backstop)
    spot_notice = result is not None and bool(result.get("spotNotice"))
    interrupted = result is None or (bool(result.get("interrupted")) and (reason_code != OWN_SHUTDOWN or spot_notice))
    guarded = bool(run.get("watch", {}).get("guarded"))

    retries_left = not guarded and attempt < launch.retries
    retry = _retry_reason(launch, result, interrupted, reason_code, reason_message) if retries_left else None
    spent = round(launch.spent_usd + cost.get("costUsd", 0), 6)
    note = ""
    if retry and _budget_spent(launch, spent):
        retry, note = None, f"; {retry}, but what is left of maxCostUsd cannot pay another attempt"
    if retry:
        exit_code = {"exitCode": result["exitCode"]} if result is not None else {}
        record = build_record(run_id, RELAUNCHING, f"{retry}; launching a fresh one", run["launch"], **exit_code,
                              **cost)  # fmt: skip
        keep_attempt(s3, record)
        backoff = launch.retry_backoff_seconds * 2**attempt
        spot_interrupted = launch.spot and (reason_code == SPOT_RECLAIMED or spot_notice)
        interruptions = launch.interruptions + int(spot_interrupted)
        relaunch = {"attempt": attempt + 1, "backoffSeconds": backoff, "interruptions": interruptions,
                    "spentUsd": spent, "queueSeconds": launch.queue_seconds}  # fmt: skip
        return {**finish(record, relaunch), "unpriced": unpriced}

    facts: dict[str, Any] = {"logTail": read_log_tail(s3, launch.log_uri, launch.live_log_uri)}
    if result is not None:
        facts["exitCode"] = result["exitCode"]
        facts["finishedAt"] = result.get("finishedAt")
        facts["stalledAt"], facts["diagnosticsUri"] = result.get("stalledAt"), result.get("diagnosticsUri")
        facts["holdUntil"] = result.get("holdUntil")
    status, reason = _status(launch, result, guarded, interrupted, reason_code, reason_message)
    watched = run.get("watched") or {}
    if watched.get("ended") == "lost" or "Error" in watched:
        detail = lambda_error_message(watched.get("error") or watched)
        reason += f"; the workflow lost sight of the instance ({detail})"
    if result is not None and result.get("holdUntil"):
        reason += f"; the instance was held for inspection (until {result['holdUntil']} at the latest)"
    if launch.network_note:
        reason += f"; launched although {launch.network_note}"
    facts.update(cost)
    record = build_record(run_id, status, reason + note, run["launch"],
                          **{k: v for k, v in facts.items() if v is not None})  # fmt: skip
    attempts = [attempt_summary(record)]
    if attempt:  # relaunched: every attempt, this one last
        bucket, _ = split_s3_uri(launch.log_uri)
        record["attempts"] = attempts = [*read_attempts(s3, bucket, run_id, attempt), *attempts]
    record.update(totals(attempts))  # the run's, over its attempts
    # an end before the script ran, named by the instance (a secret it could not read): the Fail state's error
    error = result.get("error") if result is not None and status == FAILED else None
    error = error if error in INSTANCE_ERRORS else None
    return {**finish(record, error=error), "unpriced": unpriced}


def _budget_spent(launch: Launch, spent: float) -> bool:
    """Whether what is left of maxCostUsd cannot pay EC2's minimum billing of another attempt like this one."""
    if launch.max_cost_usd is None or not launch.rate:
        return False
    return launch.max_cost_usd - spent < Rate.from_dict(launch.rate).minimum_charge


def _retry_reason(launch: Launch, result: dict[str, Any] | None, interrupted: bool, reason_code: str,
                  reason_message: str) -> str | None:  # fmt: skip
    """Why this attempt calls for a fresh one (retries left): EC2 ended it for its own reasons or gave a Spot notice,
    or the script exited with one of retryOnExitCodes. None otherwise."""
    if interrupted and reason_code.startswith("Server."):
        return f"the instance ended for AWS's reason ({in_one_line(reason_code, reason_message)})"
    if interrupted and result is not None and result.get("spotNotice"):
        return str(result.get("reason") or "EC2 gave a Spot interruption notice")
    if result is not None and result.get("stalled") and result.get("onStall") == "retry":
        return str(result.get("reason") or "the script made no progress for stallSeconds")
    if result is not None and not interrupted and result["exitCode"] in launch.retry_on_exit_codes:
        return f"the script exited {result['exitCode']}, one of retryOnExitCodes"
    return None


def _status(
    launch: Launch,
    result: dict[str, Any] | None,
    guarded: bool,
    interrupted: bool,
    reason_code: str,
    reason_message: str,
) -> tuple[str, str]:
    if guarded and launch.deadline_source == DeadlineSource.BUDGET:
        return BUDGET_EXCEEDED, (f"the run's cost would have passed maxCostUsd ({launch.max_cost_usd:g} USD) at "
                                 f"{launch.deadline}; the instance was terminated")  # fmt: skip
    if guarded:
        return TIMED_OUT, f"the run passed its deadline ({launch.deadline}); the instance was terminated"
    if result is None:
        state_reason = in_one_line(reason_code, reason_message)
        return NO_RESULT, f"the instance ended without writing result.json (state reason: {state_reason})"
    if interrupted and result.get("spotNotice"):
        return NO_RESULT, f"{result.get('reason')}; the script was stopped and the instance ended ({reason_code})"
    if interrupted:
        return NO_RESULT, (
            f"the instance was terminated from outside ({in_one_line(reason_code, reason_message)}) "
            f"and the script was interrupted ({result.get('reason') or 'exit code ' + str(result['exitCode'])})"
        )
    if result.get("stalled"):
        return STALLED, str(result.get("reason") or "the script made no progress for stallSeconds")
    if result["exitCode"] == 0:
        return SUCCEEDED, result.get("reason") or "the script exited with code 0"
    signal = f", killed by {result['signal']}" if result.get("signal") else ""
    return FAILED, result.get("reason") or f"the script exited with code {result['exitCode']}{signal}"
