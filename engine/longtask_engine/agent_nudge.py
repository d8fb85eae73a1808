"""Nudges for the instance agent: it waits at a named pipe for its next look, and a nudge ends the wait now.

- The engine's EC2 nudges the agent when an instance is launched or terminated through the API: EC2 boots an
  instance once RunInstances has returned it, and shuts it down once TerminateInstances has. The nudge names the
  instances, so that the agent describes only those (a look at every instance costs LocalStack a describe of each).
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


def nudge(path: Path, *instance_ids: str) -> None:
    """Tell whoever waits at path, if anyone does, to look now: at these instances, or at all when none is named
    (or too many to name: a pipe writes a line whole up to PIPE_BUF bytes)."""
    line = " ".join(instance_ids)
    # OSError: nobody waiting (ENXIO), no pipe there, or nudges not yet taken: the look comes all the same
    with contextlib.suppress(OSError):
        pipe = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(pipe, (line if len(line) < select.PIPE_BUF else "").encode() + b"\n")
        finally:
            os.close(pipe)


class Nudges:
    """The waiting end of the pipe."""

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)  # left by an agent that was killed
        os.mkfifo(path, 0o600)
        self._pipe = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # its own writer too: the pipe never reads as ended

    def wait(self, timeout: float) -> set[str] | None:
        """None when no nudge came within timeout seconds; else what to look at: the instances the nudges named,
        or an empty set for all (a nudge named none). Every nudge come so far is taken: one look sees to them
        all, and one that comes during the look makes the next wait return at once."""
        if not select.select([self._pipe], [], [], timeout)[0]:
            return None
        taken = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self._pipe, 65536):
                taken += chunk
        named = [line.split() for line in taken.decode(errors="replace").splitlines()]
        return set() if not all(named) else {instance_id for ids in named for instance_id in ids}

    def close(self) -> None:
        os.close(self._pipe)
