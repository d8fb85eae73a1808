"""EC2's "EC2 Instance State-change Notification" events, put on the default bus as AWS does for every instance
state change (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html):
best effort, with the instance id and its new state in the detail. The test-only fault plan can drop them
(operation "StateChangeNotification", optionally narrowed by "state" and "runId"), as an event AWS loses."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from localstack.aws.connect import connect_to

from longtask_engine.in_localstack.plugins import faults

LOG = logging.getLogger(__name__)
DETAIL_TYPE = "EC2 Instance State-change Notification"


def emit(account: str, region: str, instance_ids: list[str], state: str) -> None:
    """Put one notification per instance; an event that cannot be put is lost, as AWS's may be."""
    entries = []
    for instance_id in instance_ids:
        rule = faults.take("StateChangeNotification", "before", {}, run_id_of_instance(account, region, instance_id))
        if rule and rule.get("state", state) == state:
            continue
        entries.append({
            "Source": "aws.ec2", "DetailType": DETAIL_TYPE, "Time": datetime.now(UTC),
            "Resources": [f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"],
            "Detail": json.dumps({"instance-id": instance_id, "state": state}),
        })  # fmt: skip
    if not entries:
        return
    try:
        connect_to(aws_access_key_id=account, region_name=region).events.put_events(Entries=entries)
    except Exception as error:  # best effort, as on AWS
        LOG.warning("could not put EC2 state-change events: %s", error)


def run_id_of_instance(account: str, region: str, instance_id: str) -> str | None:
    """The run the instance was launched for (its `longtask:run-id` tag), for the fault plan."""
    from moto.ec2.exceptions import InvalidInstanceIdError
    from moto.ec2.models import ec2_backends

    try:
        tags = ec2_backends[account][region].get_instance(instance_id).get_tags()
    except InvalidInstanceIdError:  # an instance moto no longer knows: no run to narrow a fault to
        return None
    return next((tag["value"] for tag in tags if tag["key"] == faults.RUN_ID_TAG), None)
