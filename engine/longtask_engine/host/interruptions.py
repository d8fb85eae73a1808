"""Spot interruption notices and rebalance recommendations for local instances. A notice is given as AWS FIS's
`aws:ec2:send-spot-instance-interruptions` gives it on AWS: it appears at IMDS spot/instance-action, and EC2
reclaims the instance at the notice's time (here the instance agent does, machine.py), with the state reason
Server.SpotInstanceTermination.
https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#send-spot-instance-interruptions
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from longtask.common.tags import RUN_ID
from longtask.common.timestamps import iso_utc
from longtask.errors import EngineError, RunNotFound, UserError
from longtask_engine.paths import REBALANCE_RECOMMENDATION, SPOT_NOTICE, EnginePaths

NOTICE_SECONDS = 120  # EC2 gives the notice two minutes ahead


@dataclass(frozen=True)
class Notice:
    instance_id: str
    time: str  # when EC2 reclaims the instance


def send_spot_interruption(ec2: Any, paths: EnginePaths, run_id: str, seconds: int = NOTICE_SECONDS) -> Notice:
    """Give the running Spot instance of a run the interruption notice: reclaimed `seconds` from now."""
    instance_id, folder = _spot_instance_folder(ec2, paths, run_id, "interrupt")
    notice = Notice(instance_id, iso_utc(datetime.now(UTC) + timedelta(seconds=seconds)))
    _publish(folder, SPOT_NOTICE, {"action": "terminate", "time": notice.time})
    return notice


def send_rebalance_recommendation(ec2: Any, paths: EnginePaths, run_id: str) -> Notice:
    """Give the running Spot instance of a run a rebalance recommendation, as EC2 gives one at IMDS
    events/recommendations/rebalance ({"noticeTime": ...}); no reclaim follows it
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/rebalance-recommendations.html)."""
    instance_id, folder = _spot_instance_folder(ec2, paths, run_id, "recommend a rebalance to")
    notice = Notice(instance_id, iso_utc(datetime.now(UTC)))
    _publish(folder, REBALANCE_RECOMMENDATION, {"noticeTime": notice.time})
    return notice


def _spot_instance_folder(ec2: Any, paths: EnginePaths, run_id: str, doing: str) -> tuple[str, Path]:
    """The run's running Spot instance and its folder, where its IMDS reads notices."""
    reservations = ec2.describe_instances(Filters=[
        {"Name": f"tag:{RUN_ID}", "Values": [run_id]}, {"Name": "instance-state-name", "Values": ["running"]},
    ])["Reservations"]  # fmt: skip
    instance = next((i for r in reservations for i in r["Instances"]), None)
    if instance is None:
        raise RunNotFound(f"run {run_id} has no running instance to {doing}; see `longtask status {run_id}`")
    instance_id = instance["InstanceId"]
    if instance.get("InstanceLifecycle") != "spot":
        raise UserError(f"run {run_id}'s instance {instance_id} runs on demand, and only Spot instances get "
                        "interruption notices and rebalance recommendations; start the run with --spot")  # fmt: skip
    folder = paths.instances / instance_id
    if not folder.is_dir():
        raise EngineError(f"instance {instance_id} has not booted yet; try again in a few seconds")
    return instance_id, folder


def _publish(folder: Path, name: str, document: dict[str, str]) -> None:
    written = folder / f".{name}.new"
    written.write_text(json.dumps(document))
    written.replace(folder / name)  # whole, for IMDS and the agent that read it
