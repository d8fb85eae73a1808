"""Fixtures for the engine's LocalStack plug-ins, tested without LocalStack."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable

import pytest


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], types.ModuleType]:
    """plugin(name): the module longtask_engine.plugins.<name>, imported afresh without LocalStack (its hook
    decorator, the one part of LocalStack it needs to load, returns the hook as it is)."""
    hooks = types.ModuleType("localstack.runtime.hooks")
    hooks.on_infra_start = lambda: lambda function: function
    for name in ("localstack", "localstack.runtime"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "localstack.runtime.hooks", hooks)
    sys.modules["localstack.runtime"].hooks = hooks

    def load(name: str) -> types.ModuleType:
        monkeypatch.delitem(sys.modules, f"longtask_engine.plugins.{name}", raising=False)
        return importlib.import_module(f"longtask_engine.plugins.{name}")

    return load
