"""A run's statuses and the Step Functions error names of its Fail states."""

from __future__ import annotations

RUNNING = "RUNNING"
QUEUED = "QUEUED"  # waiting for a queue's slot, a vCPU quota or capacity (common/queues.py); nothing is launched
HOLDING = "HOLDING"  # the script failed; its instance stays up for inspection until holdUntil (or a release)
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TIMED_OUT = "TIMED_OUT"
ABORTED = "ABORTED"
LAUNCH_FAILED = "LAUNCH_FAILED"
INVALID_INPUT = "INVALID_INPUT"
NO_RESULT = "NO_RESULT"
BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
STALLED = "STALLED"  # the script made no progress for stallSeconds and onStall was "fail" (or "retry", none left)
FINAL = (SUCCEEDED, FAILED, TIMED_OUT, ABORTED, LAUNCH_FAILED, INVALID_INPUT, NO_RESULT, BUDGET_EXCEEDED, STALLED)
ACTIVE = (QUEUED, RUNNING, HOLDING)  # a run's statuses before its end: the workflow may still write its record
LIVE = (RUNNING, HOLDING)  # an instance of the run is up: its watcher waits, signals wake it
RELAUNCHING = "RELAUNCHING"  # only in run state-change events: an attempt ended so that a fresh one starts

# an execution's own statuses (DescribeExecution); every one but RUNNING is final
EXECUTION_ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")

ERROR_PREFIX = "LongTask."
ERROR_NAMES = {
    FAILED: "LongTask.ScriptFailed",
    TIMED_OUT: "LongTask.TimedOut",
    LAUNCH_FAILED: "LongTask.LaunchFailed",
    INVALID_INPUT: "LongTask.InvalidInput",
    NO_RESULT: "LongTask.NoResult",
    BUDGET_EXCEEDED: "LongTask.BudgetExceeded",
    STALLED: "LongTask.Stalled",
    ABORTED: "LongTask.Aborted",  # StopExecution's error when `longtask abort` stops a run
}
# the error names an instance may end a FAILED run with instead of LongTask.ScriptFailed (its result.json's "error")
SECRET_UNAVAILABLE = "LongTask.SecretUnavailable"  # a secret could not be read at start: the script never ran
ADDRESS_NOT_ASSOCIATED = "LongTask.AddressNotAssociated"  # the instance never egressed from its Elastic IP
INSTANCE_ERRORS = (SECRET_UNAVAILABLE, ADDRESS_NOT_ASSOCIATED)
