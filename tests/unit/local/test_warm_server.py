"""The warm server (longtask_engine/warm_server.py, warm_call.py), as the local instances' `aws`: a call through the
server behaves as the command started from nothing would, here with a stand-in program (fake_aws.py)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from longtask_engine.host import warm_server
from longtask_engine.host.processes import is_alive

from longtask.waiting import poll_condition

ROOT = Path(__file__).resolve().parents[3]
PROGRAM = "tests.unit.local.fake_aws:main"
SERVER_ENV = {"PATH": os.environ["PATH"], "SERVER_ONLY": "x"}  # started in ROOT, with -m: the tests are importable
CALLER_ENV = {"PATH": os.environ["PATH"]}  # a call with the test runner's own PYTHONPATH, say, would run cold


def serve(socket_path: Path, parent: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "longtask_engine.host.warm_server", str(socket_path), str(parent), PROGRAM],
        env=SERVER_ENV, cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout.readline().startswith("warm-server: serving")
    return server


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short path: a socket's may not exceed 107 bytes."""
    with tempfile.TemporaryDirectory(prefix="awscli") as name:
        yield Path(name)


@pytest.fixture
def aws(folder: Path) -> Iterator[Path]:
    """The instance's `aws` command, with the server running; the AWS CLI itself is a script printing `cold`."""
    cold = folder / "cold-aws"
    cold.write_text('#!/bin/sh\necho cold "$@"\n')
    cold.chmod(0o755)
    command = folder / "aws"
    command.write_text(warm_server.command(Path(sys.executable), folder / "aws.sock", cold))
    command.chmod(0o755)
    server = serve(folder / "aws.sock", os.getpid())
    yield command
    server.kill()
    server.wait()


def test_a_call_gets_the_callers_arguments_environment_directory_and_streams(aws: Path, folder: Path) -> None:
    env = {**CALLER_ENV, "CALLER_ONLY": "y"}
    done = subprocess.run([str(aws), "report", "3"], input="from stdin", capture_output=True, text=True, env=env,
                          cwd=folder)  # fmt: skip
    assert done.returncode == 3
    assert done.stderr == "to stderr\n"
    seen = json.loads(done.stdout)
    assert seen["argv"] == [str(folder / "cold-aws"), "report", "3"]  # as a script started from nothing sees it
    assert seen["cwd"] == str(folder)
    assert seen["stdin"] == "from stdin"
    assert seen["env"]["CALLER_ONLY"] == "y"
    assert seen["env"]["FAKE_AWS_IMPORTED"] == "yes"  # what the program's import set
    assert "SERVER_ONLY" not in seen["env"]


def test_a_string_exit_prints_it_and_exits_1(aws: Path) -> None:
    done = subprocess.run([str(aws), "exit", "boom"], capture_output=True, text=True, env=CALLER_ENV)
    assert (done.returncode, done.stderr) == (1, "boom\n")


def call_pid(process: subprocess.Popen) -> int:
    pid = int(process.stdout.readline())
    assert is_alive(pid)
    return pid


def test_timeout_ends_the_call_as_it_ends_a_command(aws: Path) -> None:
    with subprocess.Popen(["timeout", "2", str(aws), "sleep", "60"], stdout=subprocess.PIPE, text=True,
                          env=CALLER_ENV) as timed:
        pid = call_pid(timed)
        assert timed.wait() == 124  # the call ended by timeout's SIGTERM
    assert poll_condition(lambda: not is_alive(pid), 10, 0.05)


def test_a_killed_caller_takes_its_call_with_it(aws: Path) -> None:
    with subprocess.Popen([str(aws), "sleep", "60"], stdout=subprocess.PIPE, text=True, env=CALLER_ENV) as caller:
        pid = call_pid(caller)
        caller.kill()
    assert poll_condition(lambda: not is_alive(pid), 10, 0.05)


def test_the_caller_ends_by_the_signal_that_ended_the_call(aws: Path) -> None:
    with subprocess.Popen([str(aws), "sleep", "60"], stdout=subprocess.PIPE, text=True, env=CALLER_ENV) as caller:
        os.kill(call_pid(caller), signal.SIGKILL)
        assert caller.wait() == -signal.SIGKILL


def test_unbuffered_output_is_written_as_it_is_printed(aws: Path) -> None:
    env = {**CALLER_ENV, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen([str(aws), "print-and-sleep", "60"], stdout=subprocess.PIPE, text=True, env=env) as caller:
        # while the call sleeps, without a flush (print writes its text, then the end of the line)
        printed = select.select([caller.stdout], [], [], 10)[0] and caller.stdout.readline()
        caller.kill()
    assert printed == "printed\n"


def test_a_call_that_sets_what_python_or_the_cli_reads_at_start_starts_it_from_nothing(aws: Path) -> None:
    assert {"PYTHONPATH", "AWS_DATA_PATH"} <= set(warm_server.READ_AT_START)
    for name in warm_server.READ_AT_START:
        env = {**CALLER_ENV, name: "set"}
        done = subprocess.run([str(aws), "report", "0"], capture_output=True, text=True, env=env)
        assert done.stdout == "cold report 0\n"


def test_without_the_server_aws_is_the_cli_itself(folder: Path) -> None:
    cold = folder / "cold-aws"
    cold.write_text('#!/bin/sh\necho cold "$@"\n')
    cold.chmod(0o755)
    command = warm_server.command(Path(sys.executable), folder / "no-server.sock", cold)
    done = subprocess.run(["sh", "-c", command, "aws", "report", "0"], capture_output=True, text=True)
    assert done.stdout == "cold report 0\n"


PARENT = """
import os, subprocess, sys, time
server = subprocess.Popen([sys.executable, "-m", "longtask_engine.host.warm_server", sys.argv[1], str(os.getpid()),
                           sys.argv[2]], stdout=subprocess.PIPE, text=True)
server.stdout.readline()
print(server.pid, flush=True)
time.sleep(60)
"""


def test_the_server_ends_with_the_process_that_started_it(folder: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", PARENT, str(folder / "aws.sock"), PROGRAM], env=SERVER_ENV, cwd=ROOT,
                          stdout=subprocess.PIPE, text=True) as parent:  # fmt: skip
        server = int(parent.stdout.readline())
        assert is_alive(server)
        parent.kill()
    assert poll_condition(lambda: not is_alive(server), 10, 0.05)
