"""Make sure a run's instance is gone, and say why and when it ended."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

GONE = frozenset({"shutting-down", "terminated"})
# "User initiated (2026-01-31 12:00:00 GMT)": when the instance began shutting down (AWS writes GMT, moto UTC)
TRANSITION_TIME = re.compile(r"\((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?:GMT|UTC)\)")


@dataclass(frozen=True)
class Ended:
    """How an instance ended: EC2's state reason, and the instance as EC2 describes it (empty when unknown)."""

    code: str
    message: str
    instance: dict[str, Any] = field(default_factory=dict)

    @property
    def ran_seconds(self) -> float | None:
        """From its launch to its shutdown (now, when EC2 does not say when), or None when unknown. EC2 stops
        charging when an instance enters shutting-down (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html)."""
        launched = self.instance.get("LaunchTime")
        if not isinstance(launched, datetime):
            return None
        found = TRANSITION_TIME.search(self.instance.get("StateTransitionReason") or "")
        ended = datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) if found else datetime.now(UTC)
        return max((ended - launched).total_seconds(), 0.0)


def ensure_terminated(ec2: Any, instance_id: str) -> Ended:
    """Terminate the instance if it still lives; say why it ended."""
    try:
        instances = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "InvalidInstanceID.NotFound":
            return Ended("NotFound", "the instance is no longer known to EC2")
        raise
    except IndexError:
        return Ended("NotFound", "the instance is no longer known to EC2")
    instance = instances[0]
    if instance["State"]["Name"] not in GONE:
        ec2.terminate_instances(InstanceIds=[instance_id])
        state = instance["State"]["Name"]
        return Ended("LongTask.Terminated", f"the instance was still {state}; the workflow terminated it", instance)
    reason = instance.get("StateReason") or {}
    return Ended(reason.get("Code", ""), reason.get("Message", ""), instance)
