"""Errors the workflow catches by name: each class name is the Step Functions error name."""

from __future__ import annotations


class LongTaskError(Exception):
    """Base of the launcher's errors."""


class InvalidInput(LongTaskError):
    """The execution input is wrong; nothing was launched."""


class LaunchFailed(LongTaskError):
    """No instance could be launched with any of the options given."""
