"""Answer SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat as AWS does while other executions start.

LocalStack 4.9.2 looks for a task token in the callback pool of every RUNNING execution
(`execution.exec_worker.env`). An execution is RUNNING from its StartExecution on, but its worker makes that
environment only once it has parsed the definition, in a thread of its own. A token sent meanwhile, for any
execution, failed with 500 InternalError ('NoneType' object has no attribute 'callback_pool_manager'); with 50
runs at once, most signals met one of the watcher executions each run starts. SendTaskSuccess answers a valid
token with success, and one whose task has ended with TaskTimedOut, TaskDoesNotExist or InvalidToken
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html), whatever other
executions are doing. A token is made by a task its execution's environment runs, so an execution without one
holds no token: it is passed over. Otherwise the search and its answers are LocalStack's, for RUNNING executions
(its SendTaskFailure also searched ended ones, whose tasks had ended), except that a task that timed out answers
TaskTimedOut (LocalStack tested the wrapping error, not the timeout it wraps, and answered TaskDoesNotExist).
Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localstack.runtime import hooks


@hooks.on_infra_start()
def answer_task_tokens_as_aws_does() -> None:
    from localstack.services.stepfunctions import provider as sfn

    def tell_holder(provider: Any, context: Any, tell: Callable[[Any], bool]) -> None:
        """tell(callback pool) of each RUNNING execution until one holds the token; else the error AWS answers."""
        for execution in provider._get_executions(context, sfn.ExecutionStatus.RUNNING):
            worker = execution.exec_worker
            environment = worker.env if worker is not None else None
            if environment is None:  # still parsing its definition: no task of it has run
                continue
            try:
                if tell(environment.callback_pool_manager):
                    return
            except sfn.CallbackNotifyConsumerError as error:  # the task has ended: timed out, or otherwise
                timed_out = isinstance(error.callback_consumer_error, sfn.CallbackConsumerTimeout)
                raise (sfn.TaskTimedOut() if timed_out else sfn.TaskDoesNotExist()) from error
        raise sfn.InvalidToken("Invalid token")

    def send_task_success(self: Any, context: Any, task_token: str, output: str, **kwargs: Any) -> Any:
        outcome = sfn.CallbackOutcomeSuccess(callback_id=task_token, output=output)
        tell_holder(self, context, lambda pool: pool.notify(callback_id=task_token, outcome=outcome))
        return sfn.SendTaskSuccessOutput()

    def send_task_failure(self: Any, context: Any, task_token: str, error: str | None = None,
                          cause: str | None = None, **kwargs: Any) -> Any:  # fmt: skip
        outcome = sfn.CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause)
        tell_holder(self, context, lambda pool: pool.notify(callback_id=task_token, outcome=outcome))
        return sfn.SendTaskFailureOutput()

    def send_task_heartbeat(self: Any, context: Any, task_token: str, **kwargs: Any) -> Any:
        tell_holder(self, context, lambda pool: pool.heartbeat(callback_id=task_token))
        return sfn.SendTaskHeartbeatOutput()

    for handler in (send_task_success, send_task_failure, send_task_heartbeat):
        setattr(sfn.StepFunctionsProvider, handler.__name__, handler)
