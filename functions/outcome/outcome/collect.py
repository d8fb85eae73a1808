"""Decide a run's final status from the launch, the watch and what the instance reported."""

from __future__ import annotations

from typing import Any

from common.keys import split_s3_uri
from common.record import build_record
from common.statuses import FAILED, INVALID_INPUT, LAUNCH_FAILED, NO_RESULT, RUNNING, SUCCEEDED, TIMED_OUT

from .artifacts import keep_attempt_log, read_log_tail, read_result
from .instance import ensure_terminated
from .record import finish, lambda_error_message

OWN_SHUTDOWN = "Client.InstanceInitiatedShutdown"


def collect(run_id: str, run: dict[str, Any], s3: Any, ec2: Any) -> dict[str, Any]:
    """The final record for a run, from the workflow's state (launch, watch, watched, or error)."""
    launch = run.get("launch")
    if launch is None:
        error = run.get("error") or {}
        status = INVALID_INPUT if error.get("Error") == "InvalidInput" else LAUNCH_FAILED
        return finish(build_record(run_id, status, lambda_error_message(error)))

    reason_code, reason_message = ensure_terminated(ec2, launch["instanceId"])
    result = read_result(s3, *split_s3_uri(launch["resultUri"]))
    ended_by_aws = reason_code.startswith("Server.")
    interrupted = result is None or (bool(result.get("interrupted")) and reason_code != OWN_SHUTDOWN)
    guarded = bool(run.get("watch", {}).get("guarded"))

    if interrupted and ended_by_aws and not guarded and launch.get("attempt", 0) < launch.get("retries", 0):
        keep_attempt_log(s3, run_id, launch["logUri"], launch["attempt"])
        reason = f"the instance ended for AWS's reason ({reason_code}: {reason_message}); launching a fresh one"
        record = build_record(run_id, RUNNING, reason, launch)
        return finish(record, relaunch={"attempt": launch["attempt"] + 1})

    facts: dict[str, Any] = {"logTail": read_log_tail(s3, launch["logUri"], launch["liveLogUri"])}
    if result is not None:
        facts["exitCode"] = result["exitCode"]
        facts["finishedAt"] = result.get("finishedAt")
    status, reason = _status(launch, result, guarded, interrupted, reason_code, reason_message)
    watched = run.get("watched") or {}
    if watched.get("ended") == "lost" or "Error" in watched:
        detail = lambda_error_message(watched.get("error") or watched)
        reason += f"; the workflow lost sight of the instance ({detail})"
    if launch.get("networkNote"):
        reason += f"; launched although {launch['networkNote']}"
    return finish(build_record(run_id, status, reason, launch, **{k: v for k, v in facts.items() if v is not None}))


def _status(
    launch: dict[str, Any],
    result: dict[str, Any] | None,
    guarded: bool,
    interrupted: bool,
    reason_code: str,
    reason_message: str,
) -> tuple[str, str]:
    if guarded:
        return TIMED_OUT, f"the run passed its deadline ({launch['deadline']}); the instance was terminated"
    if result is None:
        state_reason = f"{reason_code}: {reason_message}"
        return NO_RESULT, f"the instance ended without writing result.json (state reason: {state_reason})"
    if interrupted:
        return NO_RESULT, (
            f"the instance was terminated from outside ({reason_code}: {reason_message}) "
            f"and the script was interrupted ({result.get('reason') or 'exit code ' + str(result['exitCode'])})"
        )
    if result["exitCode"] == 0:
        return SUCCEEDED, result.get("reason") or "the script exited with code 0"
    signal = f", killed by {result['signal']}" if result.get("signal") else ""
    return FAILED, result.get("reason") or f"the script exited with code {result['exitCode']}{signal}"
