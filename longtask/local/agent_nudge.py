"""Nudges for the instance agent: it waits at a named pipe for its next look, and a nudge ends the wait now.

- The engine's EC2 nudges the agent when an instance is launched or terminated through the API: EC2 boots an
  instance once RunInstances has returned it, and shuts it down once TerminateInstances has.
- A machine's `shutdown` presses the machine's power button, a pipe of its own (machine.py): the agent powers it
  off now, not at its next look.

A named pipe, so that a machine's bash can nudge too (`3<>` opens it without waiting for a reader, on Linux). A
nudge with nobody waiting is lost quietly: the looks at an interval stay the net for it.
"""

from __future__ import annotations

import contextlib
import os
import select
from pathlib import Path

NUDGE = b"!"


def nudge(path: Path) -> None:
    """Tell whoever waits at path, if anyone does, to look now."""
    # OSError: nobody waiting (ENXIO), no pipe there, or nudges not yet taken: the look comes all the same
    with contextlib.suppress(OSError):
        pipe = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(pipe, NUDGE)
        finally:
            os.close(pipe)


class Nudges:
    """The waiting end of the pipe."""

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)  # left by an agent that was killed
        os.mkfifo(path, 0o600)
        self._pipe = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # its own writer too: the pipe never reads as ended

    def wait(self, timeout: float) -> bool:
        """Whether a nudge came within timeout seconds; every nudge come so far is taken: one look sees to them
        all, and one that comes during the look makes the next wait return at once."""
        ready, _, _ = select.select([self._pipe], [], [], timeout)
        while True:
            try:
                os.read(self._pipe, 4096)
            except BlockingIOError:
                return bool(ready)

    def close(self) -> None:
        os.close(self._pipe)
