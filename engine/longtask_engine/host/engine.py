"""The local engine as one thing: LocalStack plus the instance agent, brought up and down together."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from longtask.client import LongTaskClient, Target
from longtask.errors import EngineError
from longtask_engine.host import localstack
from longtask_engine.host.instance_agent import MINUTE_ENV
from longtask_engine.host.network import give_default_vpc_an_internet_gateway
from longtask_engine.host.processes import read_pid, spawn, stop
from longtask_engine.paths import EnginePaths

AGENT_STOP_GRACE_SECONDS = 20
REAL_MINUTE_SECONDS = 60  # `shutdown -h +N` on an engine no test started
# locally a poll costs nothing: poll every second, back off to 5 s at most
LOCAL_STACK_PARAMETERS = {"DefaultPollSeconds": "1", "DefaultMaxPollSeconds": "5"}


@dataclass(frozen=True)
class EngineStatus:
    localstack_pid: int | None
    agent_pid: int | None
    healthy: bool
    endpoint_url: str

    @property
    def up(self) -> bool:
        return self.healthy and self.localstack_pid is not None and self.agent_pid is not None


def status(paths: EnginePaths) -> EngineStatus:
    return EngineStatus(
        localstack_pid=read_pid(paths.pid_file("localstack")),
        agent_pid=read_pid(paths.pid_file("agent")),
        healthy=localstack.is_healthy(),
        endpoint_url=localstack.endpoint_url(),
    )


def up(paths: EnginePaths, agent_minute_seconds: int | None = None) -> bool:
    """Start LocalStack and the instance agent unless they run; return whether anything was started.

    agent_minute_seconds: how long a minute of `shutdown -h +N` lasts on local instances (tests compress it); an
    agent running with another setting is restarted. None: a running agent is kept as it is (a CLI command must
    not change the clock of the engine a test session started), a new one gets real minutes (60 s).
    """
    launched = localstack.launch(paths)
    if launched:
        shutil.rmtree(paths.instances, ignore_errors=True)  # a fresh LocalStack knows no instances
    # the agent starts while LocalStack does: LocalStack's start keeps one core busy for seconds, the agent's
    # (its AWS CLI server's warm-up included) would otherwise compete with the first deploy for both
    agent_started = _start_agent(paths, agent_minute_seconds)
    if launched:
        try:
            localstack.wait_until_healthy(paths)
        except EngineError:
            stop(paths.pid_file("agent"), AGENT_STOP_GRACE_SECONDS)
            raise
        give_default_vpc_an_internet_gateway(target(paths, "").client("ec2"))
    return launched or agent_started


def _start_agent(paths: EnginePaths, agent_minute_seconds: int | None) -> bool:
    """Start the instance agent unless it runs with the clock asked for; return whether it was started."""
    setting = paths.state / "agent-minute-seconds"
    asked = agent_minute_seconds is not None and setting.exists() and setting.read_text() != str(agent_minute_seconds)
    if read_pid(paths.pid_file("agent")) and asked:
        stop(paths.pid_file("agent"), AGENT_STOP_GRACE_SECONDS)
    agent_minute_seconds = agent_minute_seconds or REAL_MINUTE_SECONDS
    if read_pid(paths.pid_file("agent")) is None:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": localstack.endpoint_url(),
            "LONGTASK_HOME": str(paths.home),
            MINUTE_ENV: str(agent_minute_seconds),
        }
        spawn([sys.executable, "-m", "longtask_engine.host.instance_agent"], paths.pid_file("agent"),
              paths.logs / "agent.log", env, paths.state)  # fmt: skip
        setting.write_text(str(agent_minute_seconds))
        return True
    return False


def target(paths: EnginePaths, stack_name: str) -> Target:
    """Where a stack on this engine is reached: over TLS, trusting the engine's certificate."""
    return Target(stack_name=stack_name, endpoint_url=localstack.endpoint_url(), ca_bundle=str(paths.ca_bundle))


def connect(stack: str, parameters: dict[str, str], paths: EnginePaths) -> LongTaskClient:
    """A client for the stack on this (running) engine, first deployed from template.yaml with these parameters
    if anything changed."""
    from longtask_engine.host.deploy import deploy

    stack_target = target(paths, stack)
    deploy(stack_target.client("cloudformation"), stack_target.client("s3"), stack, parameters, paths)
    return LongTaskClient(stack_target)


def down(paths: EnginePaths) -> bool:
    """Stop the agent (which powers off its instances) and LocalStack; return whether anything ran."""
    agent = stop(paths.pid_file("agent"), AGENT_STOP_GRACE_SECONDS)
    return localstack.stop_localstack(paths) or agent


def stray_processes(paths: EnginePaths) -> list[int]:
    """Processes still running from this engine's LocalStack environment (none once it is down)."""
    marker = str(paths.localstack_venv).encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found
