"""Make LocalStack's StopExecution end an execution at once, as AWS Step Functions does.

On AWS the execution is ABORTED when StopExecution returns: DescribeExecution says so, and the "Execution
Status Change" event is sent (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html,
https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html); a task already in flight (a Lambda
invocation, an API call) still completes, but no state runs after it.
LocalStack 4.9.2 only flags the stop and reports ABORTED when the execution's worker next checks it: after the
Lambda invocation in flight returns, or after a Retry's whole IntervalSeconds, which it sleeps through
(up to minutes with BackoffRate). Until then the run looked RUNNING to the reaper and to `longtask abort`.
Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

import datetime
from typing import Any

from localstack.runtime import hooks


@hooks.on_infra_start()
def stop_executions_at_once() -> None:
    from localstack.aws.api.stepfunctions import ExecutionStatus
    from localstack.services.stepfunctions.asl.eval.program_state import ProgramStopped
    from localstack.services.stepfunctions.backend.execution import BaseExecutionWorkerCommunication, Execution

    flag_stop = Execution.stop
    reflect_end = BaseExecutionWorkerCommunication.terminated

    def stop(self: Execution, stop_date: datetime.datetime, error: str | None, cause: str | None) -> None:
        flag_stop(self, stop_date=stop_date, error=error, cause=cause)
        worker: Any = self.exec_worker
        env = worker.env if worker is not None else None
        stopped = env is not None and isinstance(env.program_state(), ProgramStopped)
        if stopped and self.exec_status == ExecutionStatus.RUNNING:
            self.exec_status, self.stop_date = ExecutionStatus.ABORTED, stop_date
            self.publish_execution_status_change_event()

    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        if self.execution.exec_status != ExecutionStatus.ABORTED:  # else stop() above has told the end already
            reflect_end(self)

    Execution.stop = stop
    BaseExecutionWorkerCommunication.terminated = terminated
