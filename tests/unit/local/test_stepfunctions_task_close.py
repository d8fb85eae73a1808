"""A task's token closes when the task ends (plugins/stepfunctions_task_close.py), on stand-ins shaped as LocalStack
4.9.2's callback pool, endpoint and environment: once closed, telling the token fails as the task timed out, and a
wait on it wakes with no outcome."""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import pytest

from .callback_errors import CallbackConsumerTimeout, CallbackNotifyConsumerError


class CallbackEndpoint:
    """LocalStack's endpoint: an outcome and the event its task waits on; `report` closes it."""

    def __init__(self) -> None:
        self.outcome: Any = None
        self.consumer_error: Exception | None = None
        self.event = threading.Event()

    def report(self, consumer_error: Exception) -> None:
        self.consumer_error = consumer_error

    def interrupt_all(self) -> None:
        self.event.set()

    def notify(self, outcome: Any) -> None:
        self.outcome = outcome
        self.event.set()

    def wait(self, timeout: float) -> Any:
        self.event.wait(timeout)
        return self.outcome


class CallbackPoolManager:
    """LocalStack's pool: a token's endpoint is told unless a consumer error was reported on it."""

    def __init__(self) -> None:
        self.pool: dict[str, CallbackEndpoint] = {}

    def get(self, callback_id: str) -> CallbackEndpoint | None:
        return self.pool.get(callback_id)

    def add(self, callback_id: str) -> CallbackEndpoint:
        self.pool[callback_id] = CallbackEndpoint()
        return self.pool[callback_id]

    def notify(self, callback_id: str, outcome: Any) -> bool:
        endpoint = self.pool.get(callback_id)
        if endpoint is None:
            return False
        if endpoint.consumer_error is not None:
            raise CallbackNotifyConsumerError(endpoint.consumer_error)
        endpoint.notify(outcome)
        return True

    def heartbeat(self, callback_id: str) -> bool:
        endpoint = self.pool.get(callback_id)
        if endpoint is not None and endpoint.consumer_error is not None:
            raise CallbackNotifyConsumerError(endpoint.consumer_error)
        return endpoint is not None


class ContextObject:
    """LocalStack's context object: the task's token, the state's retry count, and a new token when asked."""

    def __init__(self, token: str | None) -> None:
        self.context_object_data: dict[str, Any] = {"State": {"RetryCount": 0}}
        if token:
            self.context_object_data["Task"] = {"Token": token}
        self.made = 0

    def update_task_token(self) -> str:
        self.made += 1
        self.context_object_data["Task"] = {"Token": f"t{self.made}"}
        return f"t{self.made}"


class Environment:
    """LocalStack's environment, as far as a frame's end goes: its context, its pool, whether it is a frame."""

    def __init__(self, pool: CallbackPoolManager, token: str | None, frame: bool = True) -> None:
        self.states = types.SimpleNamespace(context_object=ContextObject(token))
        self.callback_pool_manager, self._frame, self.ended = pool, frame, False

    def is_frame(self) -> bool:
        return self._frame

    def set_ended(self) -> None:
        self.ended = True


class StateTaskServiceCallback:
    """LocalStack's task with a token: each attempt (the first, then each retry) is one evaluation."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def _evaluate_with_timeout(self, env: Environment) -> None:
        self.tokens.append(env.states.context_object.context_object_data["Task"]["Token"])


@pytest.fixture
def pool(plugin: Callable[[str], types.ModuleType], monkeypatch: pytest.MonkeyPatch) -> CallbackPoolManager:
    """A pool holding the token "t", with the plug-in loaded over the stand-ins."""
    callback = types.ModuleType("localstack.services.stepfunctions.asl.eval.callback.callback")
    environment = types.ModuleType("localstack.services.stepfunctions.asl.eval.environment")
    callback.__dict__.update(CallbackPoolManager=CallbackPoolManager, CallbackEndpoint=CallbackEndpoint,
                             CallbackConsumerTimeout=CallbackConsumerTimeout)  # fmt: skip
    environment.Environment = Environment
    task = types.ModuleType("localstack.services.stepfunctions.asl.component.state.state_execution.state_task."
                            "service.state_task_service_callback")  # fmt: skip
    task.StateTaskServiceCallback = StateTaskServiceCallback
    for module in (callback, environment, task):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    package = types.ModuleType("localstack.services.stepfunctions.asl.eval.callback")
    package.callback = callback
    monkeypatch.setitem(sys.modules, package.__name__, package)
    patched = ((CallbackPoolManager, ("notify", "heartbeat")), (CallbackEndpoint, ("interrupt_all",)),
               (Environment, ("set_ended",)), (StateTaskServiceCallback, ("_evaluate_with_timeout",)))  # fmt: skip
    for cls, names in patched:
        for name in names:
            monkeypatch.setattr(cls, name, getattr(cls, name))  # restored after the test
    plugin("stepfunctions_task_close").close_task_tokens_when_tasks_end()
    found = CallbackPoolManager()
    found.pool["t"] = CallbackEndpoint()
    return found


def assert_closed(pool: CallbackPoolManager) -> None:
    for tell in (lambda: pool.notify("t", "late"), lambda: pool.heartbeat("t")):
        with pytest.raises(CallbackNotifyConsumerError) as raised:
            tell()
        assert isinstance(raised.value.callback_consumer_error, CallbackConsumerTimeout)
    assert pool.pool["t"].outcome is None


def test_a_token_is_told_while_its_task_runs(pool: CallbackPoolManager) -> None:
    assert pool.notify("t", "success") and pool.heartbeat("t")
    assert pool.pool["t"].outcome == "success"


def test_a_task_that_ends_closes_its_token(pool: CallbackPoolManager) -> None:
    pool.pool["t"].interrupt_all()  # what LocalStack calls when a task's wait for its token is over
    assert_closed(pool)


def test_a_frame_ended_by_its_state_s_timeout_closes_its_task_s_token_and_wakes_the_wait(
    pool: CallbackPoolManager,
) -> None:
    woke: list[Any] = []
    waiting = threading.Thread(target=lambda: woke.append(pool.pool["t"].wait(timeout=30)))
    waiting.start()
    frame = Environment(pool, "t")
    frame.set_ended()
    waiting.join(timeout=5)
    assert woke == [None] and frame.ended  # woken at once, without an outcome: the task timed out
    assert_closed(pool)


def test_frames_without_a_task_token_and_the_execution_itself_close_nothing(pool: CallbackPoolManager) -> None:
    for environment in (Environment(pool, None), Environment(pool, "t", frame=False)):
        environment.set_ended()
        assert environment.ended
    assert pool.notify("t", "success")


def test_each_retry_of_a_task_waits_on_a_token_of_its_own(pool: CallbackPoolManager) -> None:
    """The first attempt keeps the state's token; a retry (RetryCount above 0) gets a new one, open in the pool."""
    task, env = StateTaskServiceCallback(), Environment(pool, "t")
    task._evaluate_with_timeout(env)
    pool.pool["t"].interrupt_all()  # the first attempt ended: its token is closed
    env.states.context_object.context_object_data["State"]["RetryCount"] = 1
    task._evaluate_with_timeout(env)
    assert task.tokens == ["t", "t1"]
    assert_closed(pool)
    assert pool.notify("t1", "success") and pool.pool["t1"].outcome == "success"
