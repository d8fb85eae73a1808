"""Decide a run's final status from the launch, the guard and what the instance reported."""

from __future__ import annotations

from typing import Any

from .artifacts import read_log_tail, read_result
from .instance import ensure_terminated
from .record import build_record, finish, lambda_error_message


def collect(run_id: str, run: dict[str, Any], s3: Any, ec2: Any) -> dict[str, Any]:
    """The final record for a run, from the workflow's state (launch, instance, guard or error)."""
    launch = run.get("launch")
    if launch is None:
        error = run.get("error") or {}
        status = "INVALID_INPUT" if error.get("Error") == "InvalidInput" else "LAUNCH_FAILED"
        return finish(build_record(run_id, status, lambda_error_message(error)))

    reason_code, reason_message = ensure_terminated(ec2, launch["instanceId"])
    bucket, prefix = launch["bucket"], launch["prefix"]
    result = read_result(s3, bucket, f"{prefix}/result.json")
    facts: dict[str, Any] = {"logTail": read_log_tail(s3, bucket, f"{prefix}/cloud-init-output.log")}
    if result is not None:
        facts["exitCode"] = result["exitCode"]
        facts["finishedAt"] = result.get("finishedAt")

    if "guard" in run:
        status, reason = (
            "TIMED_OUT",
            f"the run passed its deadline ({launch['deadline']}); the instance was terminated",
        )
    elif result is None:
        status = "NO_RESULT"
        reason = f"the instance ended without writing result.json (state reason: {reason_code}: {reason_message})"
    elif result["exitCode"] == 0:
        status, reason = "SUCCEEDED", result.get("reason") or "the script exited with code 0"
    else:
        status = "FAILED"
        signal = f", killed by {result['signal']}" if result.get("signal") else ""
        reason = result.get("reason") or f"the script exited with code {result['exitCode']}{signal}"
    if "instance" in run and "Error" in run["instance"]:
        reason += f"; the workflow lost sight of the instance ({lambda_error_message(run['instance'])})"
    return finish(build_record(run_id, status, reason, launch, **{k: v for k, v in facts.items() if v is not None}))
