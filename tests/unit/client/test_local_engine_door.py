"""The product's one door to the local engine: without the engine installed, a local command says how to get it
(or to use AWS) instead of failing with an import error."""

from __future__ import annotations

import sys

import pytest

from longtask.errors import UserError
from longtask.local_engine import engine_module


def test_without_the_engine_a_local_command_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "longtask_engine" or n.startswith("longtask_engine.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "longtask_engine", None)  # as if it were not installed
    with pytest.raises(UserError, match=r"the local engine is not installed: `pip install 'longtask\[local\]'`"):
        engine_module()


def test_with_the_engine_the_door_opens_on_its_modules() -> None:
    assert engine_module().__name__ == "longtask_engine.host.engine"
    assert hasattr(engine_module("host.deploy"), "LOCAL_RUNTIME")
