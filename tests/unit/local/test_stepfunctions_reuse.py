"""The Step Functions reuse the engine loads into LocalStack: one client per role session, renewed; one path parser;
one heap key per shared component."""

from __future__ import annotations

import threading
import time
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest


@pytest.fixture
def reuse(plugin: Callable[[str], types.ModuleType]) -> types.ModuleType:
    return plugin("speed.stepfunctions_reuse")


@dataclass(frozen=True)
class Credentials:
    role_arn: str


def test_a_role_s_client_is_reused_within_its_session_and_made_again_after(
    reuse: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = []
    clients = reuse.ClientsPerSession(lambda **kwargs: made.append(kwargs) or object())
    now = [1000.0]
    monkeypatch.setattr(reuse.time, "monotonic", lambda: now[0])
    role, other = Credentials("arn:aws:iam::1:role/a"), Credentials("arn:aws:iam::1:role/b")
    first = clients("ec2", "us-east-1", role)
    assert clients("ec2", "us-east-1", role) is first
    assert clients("ec2", "us-east-1", other) is not first  # another role: its own session
    assert clients("dynamodb", "us-east-1", role) is not first  # another service
    now[0] += reuse.SESSION_SECONDS + 1
    assert clients("ec2", "us-east-1", role) is not first  # the session is over: assumed again
    assert len(made) == 4


def test_one_parser_is_made_and_parses_every_path_in_turn(reuse: types.ModuleType) -> None:
    made = []

    class Parser:
        def __init__(self) -> None:
            made.append(self)

        def parse(self, path: str) -> tuple[str, int]:
            if not path.startswith("$"):
                raise ValueError(path)
            return path, len(made)

    parse = reuse.OneParser(Parser)
    assert [parse("$.a"), parse("$.b")] == [("$.a", 1), ("$.b", 1)]
    with pytest.raises(ValueError):
        parse("a")
    assert parse("$.c") == ("$.c", 1)  # a failed parse leaves the parser to parse the next
    assert len(made) == 1


def test_a_shared_component_makes_one_heap_key_when_executions_ask_at_once(reuse: types.ModuleType) -> None:
    """As LocalStack's EvalComponent.heap_key: made the first time it is asked; each execution must get the same."""
    asking = threading.Barrier(8)

    class Component:
        _key: str | None = None

        def heap_key(self) -> str:
            if self._key is None:
                time.sleep(0.01)  # two first askers overlap here, unless one waits for the other
                self._key = uuid.uuid4().hex
            return self._key

    Component.heap_key = property(reuse.Locked(Component.heap_key))
    component, keys = Component(), []

    def ask() -> None:
        asking.wait()
        keys.append(component.heap_key)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
