"""Wake a `states:startExecution.sync` task when its child execution ends, as AWS Step Functions does, instead
of LocalStack's polling.

On AWS the parent learns of its child's end from the child's status-change event, through a rule Step Functions
manages (StepFunctionsGetEventsForStepFunctionsExecutionRule, on which the state machine's role needs
events:PutTargets, events:PutRule and events:DescribeRule:
https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html). LocalStack 4.9.2 instead calls
DescribeExecution every 0.5 s while the child runs: two calls a second, each through the gateway and its IAM
check, for every run being watched, and up to 0.5 s between a child's end and its parent going on.

Here the task still looks at its child with a real DescribeExecution, authorized against the role like every
call: when it starts, as soon as the child has ended, and every LOOK_SECONDS in between (a net; an end is never
missed, since the task is watching before its first look). Between looks it waits for the end, and checks every
WAKE_SECONDS that its own execution still runs, as LocalStack's loop did.

A task whose wait ends before its child does (its execution stopped, or the task timed out) stops the child, as
Step Functions stops what a `.sync` task manages (the reason its IAM policy for `startExecution.sync` includes
states:StopExecution on the child's executions:
https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html). It does so with the task's own
credentials (the parent's role); a role without states:StopExecution leaves the child running, and the engine's
log and IAM decision log say so. LocalStack 4.9.2 left every such child running.

Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

LOOK_SECONDS = 10.0
WAKE_SECONDS = 0.5  # LocalStack's own interval between looks, after which its loop checked the execution runs


class ChildEnds:
    """The child executions a task is waiting for, by ARN: each an event, set when that execution ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: weakref.WeakValueDictionary[str, threading.Event] = weakref.WeakValueDictionary()

    def watch(self, execution_arn: str) -> threading.Event:
        """The event set when the execution ends; it stays watched while the caller holds the event."""
        with self._lock:
            event = self._events.get(execution_arn)
            if event is None:
                event = self._events[execution_arn] = threading.Event()
            return event

    def ended(self, execution_arn: str) -> None:
        with self._lock:
            event = self._events.get(execution_arn)
        if event is not None:
            event.set()


def looking_at_ends(look: Callable[[], Any], end: threading.Event, running: Callable[[], bool]) -> Callable[[], Any]:
    """A resolver that calls look() (it returns None while the child runs) at once the first time, then once
    the child has ended or LOOK_SECONDS after the last look; None without a look if running() turns false (the
    task's own execution stopped) while it waits."""
    next_look = 0.0

    def resolve() -> Any:
        nonlocal next_look
        while not end.is_set() and time.monotonic() < next_look:
            if not running():
                return None
            end.wait(WAKE_SECONDS)
        end.clear()  # an end told during the look sets it again, and the next call looks again
        next_look = time.monotonic() + LOOK_SECONDS
        return look()

    return resolve


@hooks.on_infra_start()
def wake_sync_tasks_at_child_ends() -> None:
    from localstack.aws.api.stepfunctions import ExecutionStatus
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_task.service import (
        state_task_service_sfn,
    )
    from localstack.services.stepfunctions.backend.execution import Execution

    child_ends = ChildEnds()
    publish = Execution.publish_execution_status_change_event

    def publish_and_wake(self: Execution) -> None:
        publish(self)
        if self.exec_status != ExecutionStatus.RUNNING:  # every end is published: success, failure, stop, timeout
            child_ends.ended(self.exec_arn)

    Execution.publish_execution_status_change_event = publish_and_wake
    service = state_task_service_sfn.StateTaskServiceSfn
    for name in ("_build_sync_resolver", "_build_sync2_resolver"):  # .sync and .sync:2
        setattr(service, name, _woken(getattr(service, name), child_ends))
    eval_sync = service._eval_sync

    def stopping_the_child_of_a_task_ended_early(self: Any, env: Any, sync_resolver: Any, *args: Any,
                                                 **kwargs: Any) -> Any:  # fmt: skip
        outcome = eval_sync(self, env, sync_resolver, *args, **kwargs)
        stop_child = getattr(sync_resolver, "stop_child", None)
        if not outcome and stop_child is not None and not env.is_running():  # the wait ended, the child did not
            stop_child()
        return outcome

    service._eval_sync = stopping_the_child_of_a_task_ended_early


def _woken(build: Callable[..., Callable[[], Any]], child_ends: ChildEnds) -> Callable[..., Callable[[], Any]]:
    def build_woken(self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                    state_credentials: Any) -> Callable[[], Any]:  # fmt: skip
        from botocore.exceptions import ClientError
        from localstack.services.stepfunctions.asl.utils.boto_client import boto_client_for

        child = env.stack[-1]["ExecutionArn"]  # StartExecution's output, which build() takes
        end = child_ends.watch(child)
        resolve = looking_at_ends(build(self, env, resource_runtime_part, normalised_parameters, state_credentials),
                                  end, env.is_running)  # fmt: skip

        def stop_child() -> None:
            states = boto_client_for(region=resource_runtime_part.region, service="stepfunctions",
                                     state_credentials=state_credentials)  # fmt: skip
            parent = env.states.context_object.context_object_data["Execution"]["Id"]
            try:
                states.stop_execution(executionArn=child, error="States.Aborted",
                                      cause=f"The Task state in {parent} that was managing this execution ended")
            except ClientError as error:  # denied, or ended meanwhile: the child is left as it is
                LOG.warning("could not stop %s, the child of the stopped %s: %s", child, parent, error)

        resolve.stop_child = stop_child  # type: ignore[attr-defined]
        return resolve

    return build_woken
