"""`longtask shell` on the engine, driven through a pseudo-terminal as a user types: `aws ssm start-session`
(the engine's AWS CLI) calls StartSession and hands the session to the engine's stand-in plugin, which relays the
terminal to a shell on the local instance. A session is root (sudo -i from ssm-user) with the run's variables, and
nothing else of the script's environment."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from longtask.client import LongTaskClient

from .engine_session import ROOT, STACK
from .support import assert_final
from .test_exec import running

SESSION_SECONDS = 60


class Terminal:
    """A command run on a pseudo-terminal: what it printed so far, and keys typed into it."""

    def __init__(self, *argv: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(ROOT)
            os.execv(argv[0], list(argv))
        self.seen = b""

    @property
    def tail(self) -> str:
        """The end of what it printed, for a failed assertion's message."""
        return self.seen[-3000:].decode(errors="replace")

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait_for(self, wanted: str, seconds: float = SESSION_SECONDS) -> bool:
        """Whether `wanted` was printed within `seconds` (or already)."""
        deadline = time.monotonic() + seconds
        while wanted.encode() not in self.seen and self._read(deadline - time.monotonic()):
            pass
        return wanted.encode() in self.seen

    def exit_code(self, seconds: float = SESSION_SECONDS) -> int:
        """Its exit code, once its output has ended."""
        deadline = time.monotonic() + seconds
        while self._read(deadline - time.monotonic()):
            pass
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)

    def _read(self, seconds: float) -> bool:
        """Read what is printed within `seconds`; False at the end of its output, or when nothing came."""
        if seconds <= 0 or not select.select([self.fd], [], [], seconds)[0]:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the command has exited
            return False
        self.seen += data
        return bool(data)


@contextmanager
def shell(run_id: str) -> Iterator[Terminal]:
    terminal = Terminal(str(Path(sys.executable).with_name("longtask")), "shell", run_id, "--stack", STACK)
    try:
        yield terminal
    finally:
        try:
            os.kill(terminal.pid, 9)
            os.waitpid(terminal.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(terminal.fd)


def test_a_shell_is_root_with_the_runs_variables_and_no_more(client: LongTaskClient) -> None:
    script = "export SCRIPT_ONLY=1\nsleep 300\n"
    with running(client, {"script": script, "env": {"GREETING": "hello there"}}) as run_id, shell(run_id) as session:
        assert session.wait_for("Starting session with SessionId: root-"), session.tail
        session.type('echo "<$USER by $SUDO_USER|$LONGTASK_RUN_ID|$GREETING|${SCRIPT_ONLY-unset}|$(tty)>"\n')
        assert session.wait_for(f"<root by ssm-user|{run_id}|hello there|unset|/dev/pts/"), session.tail
        session.type("pgrep -f 'sleep 300' >/dev/null && echo the script sleeps beside session $((1 + 1))\n")
        assert session.wait_for("the script sleeps beside session 2\r\n"), session.tail
        session.type("exit\n")
        assert session.exit_code() == 0, session.seen
        assert b"Exiting session with sessionId: root-" in session.seen


def test_a_shell_on_an_ended_run_says_its_status(client: LongTaskClient, longtask: Any) -> None:
    run_id = client.start({"script": "true\n"})
    assert_final(client, run_id, "SUCCEEDED")
    refused = longtask("shell", run_id)
    assert refused.exit_code == 2
    said = f"run {run_id} is SUCCEEDED: shell reaches a run's instance only while it is RUNNING or HOLDING"
    assert said in " ".join(refused.stderr.split())


def test_a_shell_ends_when_its_instance_does(client: LongTaskClient) -> None:
    script = 'until [ -e "$LONGTASK_CHECKPOINT_DIR/done" ]; do sleep 0.2; done\n'
    with running(client, {"script": script}) as run_id, shell(run_id) as session:
        assert session.wait_for("Starting session with SessionId:"), session.tail
        session.type('touch "$LONGTASK_CHECKPOINT_DIR/done"\n')  # the script ends, and its instance shuts down
        assert session.exit_code() == 0, session.tail
        assert_final(client, run_id, "SUCCEEDED")
