"""The local instances' AWS CLI, kept warm: a server that has imported the AWS CLI once forks a process for each
`aws` call an instance makes (aws_cli_call.py is the instance's `aws`; the instance agent starts this server).

Started from nothing, each call of the AWS CLI (v1, in Python) cost about 1 CPU second on 2 cores, two thirds of
it importing botocore and awscli, most of the rest reading botocore's data files. A fork of this server skips only
that (aws_cli_warmth.py): the call still runs the real AWS CLI with the caller's arguments, environment (the
instance's credentials endpoint, region and network), working directory and standard streams, and ends as the
caller sees it, with its exit status or the signal that ended it. A signal the caller gets (`timeout`'s SIGTERM)
is passed on; a caller that dies (SIGKILL at a power-off) takes its call with it. Run with LocalStack's
environment, which has the AWS CLI: `python -m longtask.local.aws_cli_server SOCKET PARENT_PID [MODULE:FUNCTION]`;
it ends with its parent.
"""

from __future__ import annotations

import contextlib
import importlib
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

from . import aws_cli_warmth

PROGRAM = "awscli.clidriver:main"  # what `aws` runs; returns the exit status
# What the AWS CLI reads from the environment when it is imported (awscli/__init__.py, botocore/compat.py): a call
# that sets one is started from nothing, so that it reads the caller's.
READ_AT_IMPORT = ("AWS_DATA_PATH", "BOTO_DISABLE_CRT")
COLD = b"cold"  # the answer to such a call
PARENT_CHECK_SECONDS = 1.0  # the server ends within this once the process that started it (the agent) is gone
MAX_REQUEST_BYTES = 1 << 20
STREAMS = 3  # the caller's stdin, stdout and stderr


def start(python: Path, socket_path: Path) -> subprocess.Popen:
    """Start the server with LocalStack's python, in a session of its own: a stop of the agent's process group
    leaves the calls in flight to end with their instances. Its output goes where the caller's does."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}  # none of READ_AT_IMPORT
    return subprocess.Popen([str(python), "-m", __name__, str(socket_path), str(os.getpid())], env=environment,
                            stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


def command(python: Path, socket_path: Path, aws: Path) -> str:
    """The instance's `aws`: a call of this server, or the AWS CLI itself (aws) when the server is not there."""
    call = Path(__file__).with_name("aws_cli_call.py")
    arguments = " ".join(shlex.quote(str(part)) for part in (python, "-I", "-S", call, socket_path, aws))
    return f'#!/bin/sh\n# The AWS CLI, started warm (longtask/local/aws_cli_server.py)\nexec {arguments} "$@"\n'


def load(program: str) -> Callable[[], int | None]:
    """Import the program's module now (the point of the server) and return its entry function."""
    module, _, function = program.partition(":")
    return getattr(importlib.import_module(module), function)


def serve(socket_path: Path, parent: int, program: Callable[[], int | None], imported: dict[str, str]) -> None:
    """Answer calls until the parent process (the agent) ends. Single-threaded: it only forks.
    imported: the environment variables the program's import set (awscli's AWS_DATA_PATH), which each call gets."""
    socket_path.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as server:
        try:
            server.bind(str(socket_path))
        except OSError as error:  # e.g. a path longer than AF_UNIX allows (107 bytes)
            print(f"aws-cli-server: cannot listen at {socket_path} ({error}); each `aws` call on a local instance "
                  "starts the AWS CLI from nothing", flush=True)  # fmt: skip
            return
        server.listen(128)
        print(f"aws-cli-server: serving {socket_path}", flush=True)
        while os.getppid() == parent:
            _reap()
            if not select.select([server], [], [], PARENT_CHECK_SECONDS)[0]:
                continue
            connection, _ = server.accept()
            if os.fork() == 0:
                server.close()
                os._exit(_session(connection, program, imported))
            connection.close()


def _reap() -> None:
    """Wait for the sessions that ended (so that their CPU time is counted as this server's, as a shell's is)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _session(connection: socket.socket, program: Callable[[], int | None], imported: dict[str, str]) -> int:
    """One call: run it in a child, pass on the caller's signals, answer its exit code (negative: a signal)."""
    message, fds, _, _ = socket.recv_fds(connection, MAX_REQUEST_BYTES, STREAMS)
    if len(fds) != STREAMS:
        return 1
    request = json.loads(message)
    if any(name in request["env"] for name in READ_AT_IMPORT):
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
    """The call itself, as `aws` started by the caller would run: its streams, directory, environment, argv."""
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
        sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")  # noqa: SIM115
        sys.argv = ["aws", *request["argv"][1:]]
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


def main() -> None:
    socket_path, parent = Path(sys.argv[1]), int(sys.argv[2])
    before = dict(os.environ)
    program_name = sys.argv[3] if len(sys.argv) > 3 else PROGRAM
    program = load(program_name)
    if program_name == PROGRAM:
        try:
            aws_cli_warmth.warm()
        except Exception as error:  # each call then reads what it needs itself, as started from nothing
            print(f"aws-cli-server: could not read the AWS CLI's data ahead of its calls ({error!r})", flush=True)
    imported = {name: value for name, value in os.environ.items() if before.get(name) != value}
    serve(socket_path, parent, program, imported)


if __name__ == "__main__":
    main()
