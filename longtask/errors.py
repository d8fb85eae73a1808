"""The errors the CLI reports as one line (exit code 2) instead of a traceback: each says what to do."""

from __future__ import annotations


class LongTaskError(Exception):
    """A failure the user can act on."""


class UserError(LongTaskError):
    """Bad input on the command line."""


class InvalidRunInput(UserError):
    """A run input the launcher would refuse (its own checks, made before anything starts)."""


class RunNotFound(LongTaskError, LookupError):
    """No such run or stack."""


class EngineError(LongTaskError):
    """The local engine could not start, deploy or answer."""
