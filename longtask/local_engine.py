"""The product's one door to the local engine: `engine/`, the package `longtask_engine`, which `pip install
'longtask[local]'` brings (the Makefile installs it in editable mode). Nothing else in the product imports it, so
the product installs and runs against AWS without it (tests/static/test_layout.py)."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any

from .errors import UserError


def engine_module(name: str = "host.engine") -> ModuleType:
    """A module of the engine (`host.engine`: start, stop, connect; `host.deploy`, `in_localstack.iam.report`...)."""
    try:
        return import_module(f"longtask_engine.{name}")
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith("longtask_engine"):
            raise
        raise UserError("the local engine is not installed: `pip install 'longtask[local]'`, or use a stack on "
                        "AWS with --aws") from None


def paths() -> Any:
    """The engine's folders (EnginePaths) for this checkout or LONGTASK_HOME."""
    return engine_module("paths").EnginePaths.default()
