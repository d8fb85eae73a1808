"""One local instance as a machine: its processes, its commands, and how it shuts down.

A shutdown follows systemd on Amazon Linux 2023 with cloud-init:
1. transient units ordered after network-online.target (started with `systemd-run`) are stopped first, while
   the network is up: SIGTERM to the unit's main process (KillMode=mixed), up to its TimeoutStopSec, then
   SIGKILL to what is left of the unit;
2. the network goes down;
3. the final kill: the processes cloud-final.service left behind (the user data: `KillMode=process`) get
   SIGTERM, then SIGKILL. Anything they upload now never arrives.
Sources: systemd.kill(5) (KillMode=), systemd.service(5) (TimeoutStopSec=), systemd-run(1), and cloud-init's
systemd/cloud-final.service.tmpl (KillMode=process).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from longtask.common.timestamps import parse_iso_utc
from longtask.waiting import poll_condition
from longtask_engine.agent_nudge import Nudges
from longtask_engine.host.imds import MetadataServer
from longtask_engine.host.network import InstanceLink
from longtask_engine.host.processes import is_alive, stop_group
from longtask_engine.paths import POWERED_OFF, SPOT_NOTICE

FINAL_KILL_GRACE_SECONDS = 10  # SIGTERM, then SIGKILL, for what cloud-final left behind
DEFAULT_TIMEOUT_STOP_SECONDS = 90  # systemd's DefaultTimeoutStopSec

SHUTDOWN = """#!/bin/bash
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
button="$LONGTASK_INSTANCE_DIR/power-button" # the agent looks now, not at its next look (agent_nudge.py)
if [[ -p $button ]]; then { echo >&3; } 3<>"$button"; fi
"""

SYSTEMD_RUN = """#!/bin/bash
# systemd-run(1) of a local instance: starts the command as a transient unit (its own process group) that
# the instance agent stops at shutdown as systemd would, by the unit's properties.
set -u
unit=run-$$
while [[ $# -gt 0 ]]; do
  case "$1" in
    --unit=*) unit=${1#--unit=} ;;
    --setenv=*) export "${1#--setenv=}" ;;
    --property=*) properties+=("${1#--property=}") ;;
    -*) ;;
    *) break ;;
  esac
  shift
done
dir="$LONGTASK_INSTANCE_DIR/units/$unit"
mkdir -p "$dir"
output=/dev/null
for property in "${properties[@]}"; do
  echo "$property" >>"$dir/properties"
  case "$property" in StandardOutput=append:*) output=${property#StandardOutput=append:} ;; esac
done
setsid "$@" </dev/null >>"$output" 2>&1 &
echo $! >"$dir/pid"
"""

SUDO = """#!/bin/bash
# sudo(8) of a local instance, as passwordless as ssm-user's on AWS. The machine's processes are root's already (the
# engine's user), so it changes only what -i changes: root's login user, home and directory.
login=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    -i | --login) login=true ;;
    -n | -E | -H) ;;
    -u) shift; [[ $1 == root ]] || { echo "sudo: unknown user $1: a local instance has root only" >&2; exit 1; } ;;
    --) shift; break ;;
    -*) echo "sudo: $1 is not modelled by the local engine" >&2; exit 1 ;;
    *) break ;;
  esac
  shift
done
if $login; then
  export SUDO_USER=${USER:-root} USER=root LOGNAME=root HOME=$LONGTASK_INSTANCE_DIR
  cd "$HOME" || exit 1
  [[ $# -gt 0 ]] || set -- bash --login
fi
exec "$@"
"""


def install_commands(bin_dir: Path, aws: str) -> None:
    """The machine's `shutdown`, `systemd-run`, `sudo` and `aws` (aws: that command's script)."""
    for name, text in (("shutdown", SHUTDOWN), ("systemd-run", SYSTEMD_RUN), ("sudo", SUDO), ("aws", aws)):
        command = bin_dir / name
        command.write_text(text)
        command.chmod(0o755)


@dataclass(frozen=True)
class Unit:
    """A transient unit started with systemd-run on the machine."""

    name: str
    pid: int
    properties: dict[str, list[str]]

    @classmethod
    def read(cls, directory: Path) -> Unit | None:
        try:
            pid = int((directory / "pid").read_text())
        except (OSError, ValueError):
            return None
        properties: dict[str, list[str]] = {}
        for line in (directory / "properties").read_text().splitlines() if (directory / "properties").exists() else []:
            key, _, value = line.partition("=")
            properties.setdefault(key, []).append(value)
        return cls(directory.name, pid, properties)

    @property
    def after_network(self) -> bool:
        return any("network-online.target" in value for value in self.properties.get("After", []))

    @property
    def timeout_stop_seconds(self) -> float:
        values = self.properties.get("TimeoutStopSec", [])
        return float(values[-1].rstrip("s")) if values else DEFAULT_TIMEOUT_STOP_SECONDS

    def stop(self) -> None:
        """KillMode=mixed: SIGTERM to the main process, then, once it ends or times out, SIGKILL to the rest."""
        mixed = self.properties.get("KillMode", ["control-group"])[-1] == "mixed"
        with contextlib.suppress(ProcessLookupError):
            if mixed:
                os.kill(self.pid, signal.SIGTERM)
            else:
                os.killpg(self.pid, signal.SIGTERM)
        poll_condition(lambda: not is_alive(self.pid), self.timeout_stop_seconds, 0.1)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


@dataclass
class Machine:
    """One running local instance: its cloud-final process group, its units, its network, its IMDS and the power
    button its `shutdown` presses."""

    instance_id: str
    directory: Path
    shutdown_behavior: str
    process: subprocess.Popen
    metadata_server: MetadataServer
    link: InstanceLink
    power_button: Nudges
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

    def reclaim_due(self) -> bool:
        """Whether the time of a Spot interruption notice given to it has come: EC2 then reclaims the instance
        (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html)."""
        try:
            notice = json.loads((self.directory / SPOT_NOTICE).read_text())
            return time.time() >= parse_iso_utc(notice["time"]).timestamp()
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def units(self) -> list[Unit]:
        folder = self.directory / "units"
        found = [Unit.read(d) for d in sorted(folder.iterdir())] if folder.is_dir() else []
        return [unit for unit in found if unit is not None]

    def power_off(self) -> bool:
        """Shut the machine down as systemd does (see the module's docstring).

        Returns whether this call powered it off (False: it was already off or going off)."""
        with self.lock:
            if self.powered_off.is_set():
                return False
            self.powered_off.set()
        units = self.units()
        stopping = [threading.Thread(target=unit.stop) for unit in units if unit.after_network]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        self.link.cut()  # the network is down from here on
        for unit in units:
            if not unit.after_network:
                unit.stop()
        stop_group(self.process.pid, FINAL_KILL_GRACE_SECONDS)
        self.process.wait()
        self.metadata_server.stop()
        self.link.close()
        (self.directory / POWERED_OFF).touch()  # EC2 may now call it terminated (plugins/ec2_provider.py)
        return True
