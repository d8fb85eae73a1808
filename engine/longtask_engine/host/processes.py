"""Start and stop the engine's background processes, each in its own process group, tracked by pid file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

from longtask.waiting import poll_condition


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in pid_file if that process is still alive."""
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return None
    return pid if is_alive(pid) else None


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """An ended process not reaped yet (not our child: nothing here will reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def spawn(command: list[str], pid_file: Path, log_file: Path, env: dict[str, str], cwd: Path) -> int:
    """Start a detached background process (own session), record its pid, send its output to log_file. The
    previous start's log is kept as log_file.1, and older ones are dropped: LocalStack logs every request, and a log
    kept for every start filled the disk."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if log_file.exists():
        log_file.replace(log_file.with_name(f"{log_file.name}.1"))
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    pid_file.write_text(str(process.pid))
    return process.pid


def stop_group(pid: int, grace: float) -> None:
    """SIGTERM a process group, then SIGKILL whatever is left after grace seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    if not poll_condition(lambda: not is_alive(pid), grace):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        poll_condition(lambda: not is_alive(pid), 5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # stragglers of the group whose leader is gone


def stop(pid_file: Path, grace: float) -> bool:
    """Stop the process recorded in pid_file (and its group); return whether one was running."""
    pid = read_pid(pid_file)
    if pid is not None:
        stop_group(pid, grace)
    pid_file.unlink(missing_ok=True)
    return pid is not None
