"""Bringing the engine up: the agent starts beside LocalStack, and goes again if LocalStack never answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from longtask_engine.host import engine, localstack
from longtask_engine.paths import EnginePaths

from longtask.errors import EngineError


def test_the_agent_starts_before_localstack_answers_and_stops_if_it_never_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, steps = EnginePaths(tmp_path), []
    monkeypatch.setattr(localstack, "launch", lambda _: steps.append("launch LocalStack") or True)
    monkeypatch.setattr(engine, "_start_agent", lambda *_: steps.append("start the agent") or True)

    def never_healthy(_: EnginePaths) -> None:
        steps.append("wait for LocalStack")
        raise EngineError("LocalStack did not become healthy")

    monkeypatch.setattr(localstack, "wait_until_healthy", never_healthy)
    monkeypatch.setattr(engine, "stop", lambda pid_file, _: steps.append(f"stop {pid_file.name}"))
    with pytest.raises(EngineError):
        engine.up(paths)
    assert steps == ["launch LocalStack", "start the agent", "wait for LocalStack", "stop agent.pid"]
