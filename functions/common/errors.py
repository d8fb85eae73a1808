"""The run contract's error for bad input: its class name is the Step Functions error name the workflow catches."""

from __future__ import annotations


class InvalidInput(Exception):
    """The execution input is wrong; nothing was launched."""
