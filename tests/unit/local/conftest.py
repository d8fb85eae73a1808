"""Fixtures for the engine's LocalStack plug-ins, tested without LocalStack."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable

import pytest


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], types.ModuleType]:
    """plugin(name): the module longtask_engine.in_localstack.plugins.<name> (or its speed.<name>),
    imported afresh without LocalStack (its hook
    decorator, the one part of LocalStack it needs to load, returns the hook as it is)."""
    hooks = types.ModuleType("localstack.runtime.hooks")
    hooks.on_infra_start = lambda: lambda function: function
    for name in ("localstack", "localstack.runtime"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "localstack.runtime.hooks", hooks)
    sys.modules["localstack.runtime"].hooks = hooks

    def load(name: str) -> types.ModuleType:
        inside = "longtask_engine.in_localstack"
        module = f"{inside}.{name}" if name.startswith("speed.") else f"{inside}.plugins.{name}"
        monkeypatch.delitem(sys.modules, module, raising=False)
        return importlib.import_module(module)

    return load
