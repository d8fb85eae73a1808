"""AWSLongRunningTask: run long work on a throwaway EC2 instance, orchestrated by AWS Step Functions.

`from longtask import Client` is the Python API (longtask/api.py, docs/python-api.md); it is imported when first
named, so that the CLI starts without boto3."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Client", "Run", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Client", "Run"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'longtask' has no attribute {name!r}")
