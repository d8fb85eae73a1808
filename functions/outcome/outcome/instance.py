"""Make sure a run's instance is gone, and say why it ended."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

GONE = frozenset({"shutting-down", "terminated"})


def ensure_terminated(ec2: Any, instance_id: str) -> tuple[str, str]:
    """Terminate the instance if it still lives; return (state reason code, message)."""
    try:
        instances = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "InvalidInstanceID.NotFound":
            return "NotFound", "the instance is no longer known to EC2"
        raise
    except IndexError:
        return "NotFound", "the instance is no longer known to EC2"
    instance = instances[0]
    if instance["State"]["Name"] not in GONE:
        ec2.terminate_instances(InstanceIds=[instance_id])
        return (
            "LongTask.Terminated",
            f"the instance was still {instance['State']['Name']}; the workflow terminated it",
        )
    reason = instance.get("StateReason") or {}
    return reason.get("Code", ""), reason.get("Message", "")
