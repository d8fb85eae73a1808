"""Errors the workflow catches by name: each class name is the Step Functions error name."""

from __future__ import annotations

from common.errors import InvalidInput  # the run contract's, raised by its input model too

__all__ = ["InvalidInput", "LaunchFailed", "LongTaskError"]


class LongTaskError(Exception):
    """Base of the launcher's own errors."""


class LaunchFailed(LongTaskError):
    """No instance could be launched with any of the options given."""
