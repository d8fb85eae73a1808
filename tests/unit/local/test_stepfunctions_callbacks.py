"""The task-token answers the engine loads into LocalStack: an execution still parsing its definition (no
environment yet) holds no token and is passed over; the answers are otherwise LocalStack's."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from .callback_errors import CallbackConsumerTimeout, CallbackNotifyConsumerError


class InvalidToken(Exception):
    pass


class TaskTimedOut(Exception):
    pass


class TaskDoesNotExist(Exception):
    pass


@dataclass
class Pool:
    """An execution's callback pool: the tokens its running tasks wait on, and what each was told."""

    tokens: dict[str, Exception | None] = field(default_factory=dict)
    told: list[tuple[str, Any]] = field(default_factory=list)

    def notify(self, callback_id: str, outcome: Any) -> bool:
        return self._tell(callback_id, outcome)

    def heartbeat(self, callback_id: str) -> bool:
        return self._tell(callback_id, "heartbeat")

    def _tell(self, token: str, what: Any) -> bool:
        if token not in self.tokens:
            return False
        if self.tokens[token] is not None:
            raise self.tokens[token]
        self.told.append((token, what))
        return True


def execution(pool: Pool | None, worker: bool = True) -> types.SimpleNamespace:
    environment = None if pool is None else types.SimpleNamespace(callback_pool_manager=pool)
    return types.SimpleNamespace(exec_worker=types.SimpleNamespace(env=environment) if worker else None)


class Provider:
    def __init__(self, running: list[types.SimpleNamespace]) -> None:
        self.running = running

    def _get_executions(self, context: Any, status: str) -> list[types.SimpleNamespace]:
        assert status == "RUNNING"
        return self.running


@pytest.fixture
def provider_class(plugin: Callable[[str], types.ModuleType], monkeypatch: pytest.MonkeyPatch) -> type[Provider]:
    sfn = types.ModuleType("localstack.services.stepfunctions.provider")
    outcome = lambda kind: lambda **fields: (kind, fields)  # noqa: E731
    sfn.__dict__.update(
        StepFunctionsProvider=Provider, ExecutionStatus=types.SimpleNamespace(RUNNING="RUNNING"),
        InvalidToken=InvalidToken, TaskTimedOut=TaskTimedOut, TaskDoesNotExist=TaskDoesNotExist,
        CallbackNotifyConsumerError=CallbackNotifyConsumerError, CallbackConsumerTimeout=CallbackConsumerTimeout,
        CallbackOutcomeSuccess=outcome("success"), CallbackOutcomeFailure=outcome("failure"),
        SendTaskSuccessOutput=dict, SendTaskFailureOutput=dict, SendTaskHeartbeatOutput=dict,
    )  # fmt: skip
    for name in ("localstack.services", "localstack.services.stepfunctions"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, sfn.__name__, sfn)
    sys.modules["localstack.services.stepfunctions"].provider = sfn
    for name in ("send_task_success", "send_task_failure", "send_task_heartbeat"):
        monkeypatch.delattr(Provider, name, raising=False)
    plugin("stepfunctions_callbacks").answer_task_tokens_as_aws_does()
    return Provider


def test_executions_still_starting_are_passed_over(provider_class: type[Provider]) -> None:
    holder = Pool(tokens={"t": None})
    provider = provider_class([execution(None, worker=False), execution(None), execution(holder)])
    assert provider.send_task_success(None, task_token="t", output='{"signaled": true}') == {}
    provider.send_task_heartbeat(None, task_token="t")
    provider.send_task_failure(None, task_token="t", error="E", cause="C")
    assert holder.told == [("t", ("success", {"callback_id": "t", "output": '{"signaled": true}'})),
                           ("t", "heartbeat"), ("t", ("failure", {"callback_id": "t", "error": "E", "cause": "C"}))]


def test_a_token_nobody_holds_is_invalid_and_an_ended_task_answers_as_it_ended(provider_class: type[Provider]) -> None:
    ended = {"late": CallbackNotifyConsumerError(CallbackConsumerTimeout()),
             "gone": CallbackNotifyConsumerError(RuntimeError("stopped"))}
    provider = provider_class([execution(None), execution(Pool(tokens=ended))])
    with pytest.raises(InvalidToken):
        provider.send_task_success(None, task_token="unknown", output="{}")
    with pytest.raises(TaskTimedOut):
        provider.send_task_success(None, task_token="late", output="{}")
    with pytest.raises(TaskDoesNotExist):
        provider.send_task_heartbeat(None, task_token="gone")
