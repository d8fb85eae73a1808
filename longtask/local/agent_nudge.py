"""The engine's EC2 nudges the instance agent when an instance is launched or terminated through the API.

EC2 boots an instance once RunInstances has returned it, and shuts it down once TerminateInstances has. The agent,
which plays those machines, is told at once (a datagram on a unix socket) instead of finding out at its next
DescribeInstances, which stays as the net for a nudge lost (none sent while the agent was down).
"""

from __future__ import annotations

import contextlib
import select
import socket
from pathlib import Path

NUDGE = b"!"


def nudge(path: Path) -> None:
    """Tell the agent listening at path, if one is, to look at the instances now."""
    # OSError: no agent listening, or nudges it has yet to read: it looks soon all the same
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, contextlib.suppress(OSError):
        sock.setblocking(False)
        sock.sendto(NUDGE, str(path))


class Nudges:
    """The agent's end of the socket."""

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)  # left by an agent that was killed
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        self._socket.setblocking(False)

    def wait(self, timeout: float) -> bool:
        """Whether a nudge came within timeout seconds; every nudge come so far is taken: one look sees to them
        all, and one that comes during the look makes the next wait return at once."""
        ready, _, _ = select.select([self._socket], [], [], timeout)
        while True:
            try:
                self._socket.recv(64)
            except BlockingIOError:
                return bool(ready)

    def close(self) -> None:
        self._socket.close()
