"""The instance agent: plays each EC2 instance the stack launches on LocalStack by running its user data.

LocalStack's EC2 only records instances. The agent watches for instances tagged `longtask:run-id`,
runs each one's user data with bash in a private directory (the instance's "disk"), with `aws`
pointed at LocalStack and a `shutdown` that honours InstanceInitiatedShutdownBehavior, and saves its
console output where the bootstrap expects cloud-init-output.log. Terminating an instance through
the API ends its process tree, as powering off a machine would.
"""

from __future__ import annotations

import base64
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .paths import EnginePaths
from .processes import stop_group

LOG = logging.getLogger("longtask.agent")
WATCH_INTERVAL_SECONDS = 0.5
MINUTE_ENV = "LONGTASK_AGENT_MINUTE_SECONDS"  # a compressed clock for `shutdown -h +N` (tests of the backstop)
POWER_OFF_GRACE_SECONDS = 10  # SIGTERM, then SIGKILL: the bootstrap's EXIT trap reports in this time
LIVE = ("pending", "running")
GONE = ("shutting-down", "terminated", "stopping", "stopped")

SHUTDOWN_SHIM = """#!/bin/bash
# shutdown(8) of a local instance: tells the instance agent when to power this machine off.
when=+1
for arg in "$@"; do
  case "$arg" in
    -c) rm -f "$LONGTASK_INSTANCE_DIR/power-off-at"; exit 0 ;;
    now) when=+0 ;;
    +[0-9]*) when=$arg ;;
  esac
done
echo $(( $(date +%s) + ${when#+} * LONGTASK_MINUTE_SECONDS )) > "$LONGTASK_INSTANCE_DIR/power-off-at"
"""


def mark_own_shutdown(request: Any, **kwargs: Any) -> None:
    """The agent terminates an instance only when it shut itself down: EC2 records that reason."""
    request.headers["x-longtask-state-reason"] = "Client.InstanceInitiatedShutdown"  # see ec2_provider.py


@dataclass
class Machine:
    """One running local instance: its process group and its directory."""

    instance_id: str
    directory: Path
    shutdown_behavior: str
    process: subprocess.Popen
    powered_off: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def power_off_file(self) -> Path:
        return self.directory / "power-off-at"

    def power_off_due(self) -> bool:
        try:
            return time.time() >= int(self.power_off_file.read_text().strip())
        except (OSError, ValueError):
            return False

    def power_off(self) -> bool:
        """End every process of the machine, like an OS shutting down: SIGTERM, grace, SIGKILL.

        Returns whether this call powered it off (False: it was already off or going off)."""
        with self.lock:
            if self.powered_off.is_set():
                return False
            self.powered_off.set()
        stop_group(self.process.pid, POWER_OFF_GRACE_SECONDS)
        self.process.wait()
        return True


class InstanceAgent:
    """Watches LocalStack's EC2 and runs the user data of each instance it finds."""

    def __init__(self, ec2: Any, paths: EnginePaths, aws_cli: Path, environment: dict[str, str]) -> None:
        self.ec2 = ec2
        self.paths = paths
        self.aws_cli = aws_cli
        self.environment = environment
        self.machines: dict[str, Machine] = {}
        self.lock = threading.Lock()

    def run_forever(self) -> None:
        while True:
            try:
                self.watch_once()
            except (BotoCoreError, ClientError) as error:
                LOG.warning("could not describe instances: %s", error)
            time.sleep(WATCH_INTERVAL_SECONDS)

    def watch_once(self) -> None:
        """Boot new instances; power off the ones terminated or stopped through the API."""
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "tag-key", "Values": ["longtask:run-id"]}]
        )
        for page in pages:
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    self._reconcile(instance["InstanceId"], instance["State"]["Name"])

    def _reconcile(self, instance_id: str, state: str) -> None:
        with self.lock:
            machine = self.machines.get(instance_id)
            if machine is None and state in LIVE and not (self.paths.instances / instance_id).exists():
                self.machines[instance_id] = self._boot(instance_id)
        if machine is not None and state in GONE and not machine.powered_off.is_set():
            LOG.info("%s is %s through the API: powering off", instance_id, state)
            threading.Thread(target=machine.power_off, daemon=True).start()

    def _boot(self, instance_id: str) -> Machine:
        directory = self.paths.instances / instance_id
        bin_dir = directory / "bin"
        bin_dir.mkdir(parents=True)
        (directory / "var" / "log").mkdir(parents=True)
        (directory / "tmp").mkdir()
        user_data = self.ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
        script = base64.b64decode(user_data.get("UserData", {}).get("Value", "") or b"")
        behavior = self.ec2.describe_instance_attribute(
            InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior"
        )["InstanceInitiatedShutdownBehavior"]["Value"]
        (directory / "user-data").write_bytes(script)
        shim = bin_dir / "shutdown"
        shim.write_text(SHUTDOWN_SHIM)
        shim.chmod(0o755)
        (bin_dir / "aws").symlink_to(self.aws_cli)
        console_log = directory / "var" / "log" / "cloud-init-output.log"
        env = {
            **self.environment,
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": str(directory),
            "TMPDIR": str(directory / "tmp"),
            "LONGTASK_INSTANCE_DIR": str(directory),
            "LONGTASK_CONSOLE_LOG": str(console_log),
            "LONGTASK_WORK_DIR": str(directory / "var" / "lib" / "longtask"),
            "LONGTASK_LOG_INTERVAL": "2",
        }
        with console_log.open("ab") as log:
            process = subprocess.Popen(
                ["bash", str(directory / "user-data")], cwd=directory, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        machine = Machine(instance_id, directory, behavior, process)
        LOG.info("%s booted (pid %s, shutdown behaviour %s)", instance_id, process.pid, behavior)
        threading.Thread(target=self._supervise, args=(machine,), daemon=True).start()
        return machine

    def _supervise(self, machine: Machine) -> None:
        """Honour the machine's own shutdown requests (immediate or scheduled, like shutdown -h +N)."""
        while not machine.powered_off.is_set():
            if machine.power_off_due():
                LOG.info("%s shut itself down: %s", machine.instance_id, machine.shutdown_behavior)
                if machine.power_off():  # not when the API ended it first
                    self._apply_shutdown_behavior(machine)
                return
            time.sleep(0.2)

    def _apply_shutdown_behavior(self, machine: Machine) -> None:
        try:
            if machine.shutdown_behavior == "terminate":
                self.ec2.terminate_instances(InstanceIds=[machine.instance_id])
            else:
                self.ec2.stop_instances(InstanceIds=[machine.instance_id])
        except (BotoCoreError, ClientError) as error:
            LOG.error("could not %s %s: %s", machine.shutdown_behavior, machine.instance_id, error)

    def power_off_all(self) -> None:
        """Power off every machine at once (the agent is stopping)."""
        with self.lock:
            machines = list(self.machines.values())
        threads = [threading.Thread(target=machine.power_off) for machine in machines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    paths = EnginePaths.default()
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    credentials = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    minute = os.environ.get(MINUTE_ENV, "60")
    environment = {"AWS_ENDPOINT_URL": endpoint, "LANG": "C.UTF-8", "LONGTASK_MINUTE_SECONDS": minute, **credentials}
    ec2 = boto3.client(
        "ec2", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    ec2.meta.events.register("before-sign.ec2.TerminateInstances", mark_own_shutdown)
    aws_cli = paths.localstack_venv / "bin" / "aws"
    agent = InstanceAgent(ec2, paths, aws_cli, environment)

    def on_term(signum: int, frame: Any) -> None:
        agent.power_off_all()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    LOG.info("instance agent watching %s", endpoint)
    agent.run_forever()


if __name__ == "__main__":
    main()
