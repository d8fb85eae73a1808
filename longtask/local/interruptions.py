"""Spot interruption notices for local instances, given as AWS FIS's `aws:ec2:send-spot-instance-interruptions`
gives them on AWS: the notice appears at IMDS spot/instance-action, and EC2 reclaims the instance at the notice's
time (here the instance agent does, machine.py), with the state reason Server.SpotInstanceTermination.
https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#send-spot-instance-interruptions
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..common.tags import RUN_ID
from ..common.timestamps import iso_utc
from ..errors import EngineError, RunNotFound, UserError
from .paths import SPOT_NOTICE, EnginePaths

NOTICE_SECONDS = 120  # EC2 gives the notice two minutes ahead


@dataclass(frozen=True)
class Notice:
    instance_id: str
    time: str  # when EC2 reclaims the instance


def send_spot_interruption(ec2: Any, paths: EnginePaths, run_id: str, seconds: int = NOTICE_SECONDS) -> Notice:
    """Give the running Spot instance of a run the interruption notice: reclaimed `seconds` from now."""
    reservations = ec2.describe_instances(Filters=[
        {"Name": f"tag:{RUN_ID}", "Values": [run_id]}, {"Name": "instance-state-name", "Values": ["running"]},
    ])["Reservations"]  # fmt: skip
    instance = next((i for r in reservations for i in r["Instances"]), None)
    if instance is None:
        raise RunNotFound(f"run {run_id} has no running instance to interrupt; see `longtask status {run_id}`")
    instance_id = instance["InstanceId"]
    if instance.get("InstanceLifecycle") != "spot":
        raise UserError(f"run {run_id}'s instance {instance_id} runs on demand, and only Spot instances get "
                        "interruption notices; start the run with --spot")  # fmt: skip
    folder = paths.instances / instance_id
    if not folder.is_dir():
        raise EngineError(f"instance {instance_id} has not booted yet; try again in a few seconds")
    notice = Notice(instance_id, iso_utc(datetime.now(UTC) + timedelta(seconds=seconds)))
    written = folder / f".{SPOT_NOTICE}.new"
    written.write_text(json.dumps({"action": "terminate", "time": notice.time}))
    written.replace(folder / SPOT_NOTICE)  # whole, for IMDS and the agent that read it
    return notice
