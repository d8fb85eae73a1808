"""A Python program kept warm: a server that has imported it once (and done what its warm-up does) forks a process
for each call. It serves the local instances' `aws` (the AWS CLI, the default program; the instance agent starts
the server) and the local Lambda execution environments (plugins/lambda_executor.py starts one per function
version); warm_call.py is the caller.

Started from nothing, each call of the AWS CLI (v1, in Python) spends most of its CPU importing botocore and
awscli and reading botocore's data files, and a Lambda environment the same importing boto3 (docs/performance.md).
A fork of this server skips only that (aws_cli_warmth.py,
lambda_runtime.warm): the call still runs the real program with the caller's arguments, environment (the
instance's credentials endpoint, region and network), working directory and standard streams, and ends as the
caller sees it, with its exit status or the signal that ended it. A signal the caller gets (`timeout`'s SIGTERM)
is passed on; a caller that dies (SIGKILL at a power-off) takes its call with it. Run with LocalStack's
environment, which has the AWS CLI and boto3:
`python -m longtask_engine.host.warm_server SOCKET PARENT_PID [PROGRAM [WARM_UP]]` (each MODULE:FUNCTION);
it ends with its parent.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import json
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

PROGRAM = "awscli.clidriver:main"  # what `aws` runs; returns the exit status
PROGRAM_WARM_UP = "longtask_engine.host.aws_cli_warmth:warm"
# What Python reads from the environment when it starts (the module search path), and what the AWS CLI and botocore
# read when they are imported (awscli/__init__.py, botocore/compat.py): a call that sets one otherwise than the
# server was started with is started from nothing, so that it reads the caller's.
READ_AT_START = ("PYTHONPATH", "AWS_DATA_PATH", "BOTO_DISABLE_CRT")
COLD = b"cold"  # the answer to such a call
PARENT_CHECK_SECONDS = 1.0  # the server ends within this once the process that started it is gone
MAX_REQUEST_BYTES = 1 << 20
STREAMS = 3  # the caller's stdin, stdout and stderr


def start(python: Path, socket_path: Path, *program: str, code: Path | None = None,
          own_session: bool = True) -> subprocess.Popen:
    """Start the server with LocalStack's python; its output goes where the caller's does.
    program: PROGRAM [WARM_UP], the AWS CLI's by default. code: the folder of the program's own modules (its
    PYTHONPATH and directory, as its calls have). own_session: in a session of its own, so that a stop of the
    caller's process group leaves the calls in flight to end (the instances' `aws` ends with its instance)."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    if code is not None:
        environment["PYTHONPATH"] = str(code)
    return subprocess.Popen([str(python), "-m", __name__, str(socket_path), str(os.getpid()), *program],
                            env=environment, cwd=code, stdin=subprocess.DEVNULL,
                            start_new_session=own_session)  # fmt: skip


def call(python: Path, socket_path: Path, *cold: str | Path) -> list[str]:
    """A call of the server at socket_path (warm_call.py), which runs the command cold when the server is not there
    or cannot run it warm."""
    return [str(python), "-I", "-S", str(Path(__file__).with_name("warm_call.py")), str(socket_path), *map(str, cold)]


def command(python: Path, socket_path: Path, aws: Path) -> str:
    """The instance's `aws`: a call of this server, or the AWS CLI itself (aws) when the server is not there."""
    arguments = " ".join(shlex.quote(part) for part in call(python, socket_path, aws))
    return f'#!/bin/sh\n# The AWS CLI, started warm (longtask_engine/host/warm_server.py)\nexec {arguments} "$@"\n'


def load(program: str) -> Callable[[], int | None]:
    """Import the program's module now (the point of the server) and return its entry function."""
    module, _, function = program.partition(":")
    return getattr(importlib.import_module(module), function)


def serve(socket_path: Path, parent: int, program: Callable[[], int | None], imported: dict[str, str],
          started_with: dict[str, str | None]) -> None:
    """Answer calls until the parent process (the agent, LocalStack) ends. Single-threaded: it only forks.
    imported: the environment variables the program's import set (awscli's AWS_DATA_PATH), which each call gets.
    started_with: the server's own READ_AT_START."""
    socket_path.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as server:
        try:
            server.bind(str(socket_path))
        except OSError as error:  # e.g. a path longer than AF_UNIX allows (107 bytes)
            print(f"warm-server: cannot listen at {socket_path} ({error}); each call starts from nothing",
                  flush=True)
            return
        server.listen(128)
        gc.freeze()  # what is warm stays out of the forks' collections, whose passes would copy its pages
        print(f"warm-server: serving {socket_path}", flush=True)
        while os.getppid() == parent:
            _reap()
            if not select.select([server], [], [], PARENT_CHECK_SECONDS)[0]:
                continue
            connection, _ = server.accept()
            if os.fork() == 0:
                server.close()
                os._exit(_session(connection, program, imported, started_with))
            connection.close()


def _reap() -> None:
    """Wait for the sessions that ended (so that their CPU time is counted as this server's, as a shell's is)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _session(connection: socket.socket, program: Callable[[], int | None], imported: dict[str, str],
             started_with: dict[str, str | None]) -> int:
    """One call: run it in a child, pass on the caller's signals, answer its exit code (negative: a signal)."""
    message, fds, _, _ = socket.recv_fds(connection, MAX_REQUEST_BYTES, STREAMS)
    if len(fds) != STREAMS:
        return 1
    request = json.loads(message)
    if any(request["env"].get(name) != value for name, value in started_with.items()):
        connection.send(COLD)
        return 0
    pid = os.fork()
    if pid == 0:
        connection.close()
        _run(request, {**request["env"], **imported}, fds, program)
    for fd in fds:
        os.close(fd)
    ended = os.pidfd_open(pid)
    while True:
        ready = select.select([connection, ended], [], [])[0]
        if ended in ready:
            _, status = os.waitpid(pid, 0)
            connection.send(str(os.waitstatus_to_exitcode(status)).encode())
            return 0
        forwarded = connection.recv(16)
        if not forwarded:  # the caller is gone: so is its call
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return 0
        os.kill(pid, int(forwarded))


def _run(request: dict, environment: dict[str, str], fds: list[int], program: Callable[[], int | None]) -> NoReturn:
    """The call itself, as the command started by the caller would run: its streams, directory, environment, argv."""
    code: int = 255
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd >= STREAMS:
                os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(environment)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the caller's streams, open as long as the call
        unbuffered = bool(environment.get("PYTHONUNBUFFERED"))  # as Python sets its streams up when it starts
        sys.stdout = _output(1, unbuffered, line_buffering=os.isatty(1))
        sys.stderr = _output(2, unbuffered, line_buffering=True, errors="backslashreplace")
        sys.argv = request["argv"]  # argv[0]: the command's path, as a script started from nothing sees it
        code = program() or 0
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
        code = 1 if isinstance(exit_.code, str) else exit_.code or 0
    except KeyboardInterrupt:  # as Python itself ends on an unhandled SIGINT: by the signal
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        traceback.print_exc()
    finally:
        for thread in threading.enumerate():  # as the interpreter's own exit: non-daemon threads end first
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)


def _output(fd: int, unbuffered: bool, line_buffering: bool, errors: str | None = None) -> io.TextIOWrapper:
    """Standard output or error on the caller's fd, buffered as Python would buffer it (PYTHONUNBUFFERED)."""
    raw = io.FileIO(fd, "w", closefd=False)
    binary = raw if unbuffered else io.BufferedWriter(raw)
    return io.TextIOWrapper(binary, errors=errors, line_buffering=line_buffering, write_through=unbuffered)


def main() -> None:
    socket_path, parent = Path(sys.argv[1]), int(sys.argv[2])
    before = dict(os.environ)
    program_name, *warm_up = sys.argv[3:] or [PROGRAM, PROGRAM_WARM_UP]
    program = load(program_name)
    try:
        for name in warm_up:
            load(name)()
    except Exception as error:  # each call then does what the warm-up did itself, as started from nothing
        print(f"warm-server: could not warm {program_name} up ({error!r})", flush=True)
    imported = {name: value for name, value in os.environ.items() if before.get(name) != value}
    serve(socket_path, parent, program, imported, {name: before.get(name) for name in READ_AT_START})


if __name__ == "__main__":
    main()
