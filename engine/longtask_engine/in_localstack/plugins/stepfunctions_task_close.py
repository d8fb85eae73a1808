"""Close a task's token when the task ends, as AWS does.

On AWS a task's TimeoutSeconds covers the whole task, its wait for the token included, and a token whose task has
ended, by timing out or otherwise, is closed: SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat answer
TaskTimedOut, "the task token has either expired or the task associated with the token has already been closed"
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html), and nothing reaches
the task any more.

LocalStack 4.9.2 closed no token (`CallbackEndpoint.report` is never called), so a late SendTaskSuccess answered
success and was lost. And it times a task out in one thread while another runs it: that thread starts its own
wait for the token, with the whole TimeoutSeconds, only once the task's call has returned (about a second later
on a busy machine). A token sent in between was taken by a task that had timed out, which then recorded
TaskSucceeded after its TaskTimedOut. Here a task's token is closed when its task ends (`interrupt_all`, which
LocalStack calls at that moment), and when the state's own timeout ends the task (the task's frame ends): the
wait is woken at once and ends timed out, without an event. A token is told, or closed, under one lock. What
stays is LocalStack's: its two threads, and the few instructions between the state's timeout and the frame's end.

A retry is a new task: on AWS it does not inherit the closed token of the attempt before. LocalStack 4.9.2 made a
token once per state, so a retried `.sync` or `.waitForTaskToken` task found its token closed and timed out at
once (TaskTimedOut, States.Timeout), every retry. Here each retry gets a token of its own.
Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

import threading
from typing import Any

from localstack.runtime import hooks


@hooks.on_infra_start()
def close_task_tokens_when_tasks_end() -> None:
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_task.service.state_task_service_callback import (  # noqa: E501
        StateTaskServiceCallback,
    )
    from localstack.services.stepfunctions.asl.eval.callback import callback
    from localstack.services.stepfunctions.asl.eval.environment import Environment

    lock = threading.Lock()
    pool, endpoint_class = callback.CallbackPoolManager, callback.CallbackEndpoint
    notify, heartbeat, interrupt_all = pool.notify, pool.heartbeat, endpoint_class.interrupt_all
    set_ended = Environment.set_ended

    def close(endpoint: Any) -> None:
        """The task has ended: its token answers TaskTimedOut from now on, and its wait is woken."""
        with lock:
            if endpoint.consumer_error is None:
                endpoint.report(callback.CallbackConsumerTimeout())
        interrupt_all(endpoint)

    def under_lock(tell: Any) -> Any:
        def tell_if_open(self: Any, callback_id: str, *args: Any, **kwargs: Any) -> Any:
            with lock:  # LocalStack's own test of the token (consumer_error), then the telling
                return tell(self, callback_id, *args, **kwargs)

        return tell_if_open

    def set_ended_closing_its_task(self: Any) -> None:
        if self.is_frame():  # a state's frame: ended by the state's timeout, or after its task ended
            token = self.states.context_object.context_object_data.get("Task", {}).get("Token")
            endpoint = self.callback_pool_manager.get(token) if token else None
            if endpoint is not None:
                close(endpoint)
        set_ended(self)

    def fresh_token_each_retry(self: Any, env: Any) -> None:
        context = env.states.context_object
        if "Task" in context.context_object_data and context.context_object_data["State"].get("RetryCount"):
            env.callback_pool_manager.add(context.update_task_token())
        evaluate_with_timeout(self, env)

    evaluate_with_timeout = StateTaskServiceCallback._evaluate_with_timeout
    StateTaskServiceCallback._evaluate_with_timeout = fresh_token_each_retry
    pool.notify, pool.heartbeat = under_lock(notify), under_lock(heartbeat)
    endpoint_class.interrupt_all = close
    Environment.set_ended = set_ended_closing_its_task
