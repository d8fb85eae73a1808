"""The engine's instance lookups for moto's EC2: moto's own answers, with copies only of the reservations narrowed."""

from __future__ import annotations

import copy
import types
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.ec2.models.instances import InstanceBackend, Reservation

RUNNING = [{"Name": "instance-state-name", "Values": ["running"]}]


def answers(ec2: Any, ids: list[str]) -> list[Any]:
    """What DescribeInstances and DescribeInstanceAttribute answer, by id, by filter and for an unknown id."""
    try:
        ec2.describe_instances(InstanceIds=[ids[0], "i-0123456789abcdef0"])
    except ClientError as error:
        unknown = error.response["Error"]
    return [
        ec2.describe_instances()["Reservations"],
        ec2.describe_instances(InstanceIds=[ids[0], ids[2]])["Reservations"],
        ec2.describe_instances(Filters=RUNNING)["Reservations"],
        ec2.describe_instances(InstanceIds=ids[:3], Filters=RUNNING)["Reservations"],
        ec2.describe_instance_attribute(InstanceId=ids[3], Attribute="instanceType")["InstanceType"],
        unknown,
    ]


def test_the_lookups_answer_as_moto_does_and_copy_only_what_they_narrow(
    plugin: Callable[[str], types.ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("all_reservations", "get_reservations_by_instance_ids"):  # put back after the test
        monkeypatch.setattr(InstanceBackend, name, getattr(InstanceBackend, name))
    copies = []  # of reservations
    made = copy.copy

    def counted(thing: Any) -> Any:
        if isinstance(thing, Reservation):
            copies.append(thing)
        return made(thing)

    monkeypatch.setattr(copy, "copy", counted)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ids = [
            i["InstanceId"]
            for count in (2, 1, 1, 1)
            for i in ec2.run_instances(ImageId="ami-12345678", MinCount=count, MaxCount=count)["Instances"]
        ]
        ec2.terminate_instances(InstanceIds=[ids[1]])
        from moto.ec2.models import ec2_backends

        backend = ec2_backends["123456789012"]["us-east-1"]
        motos = answers(ec2, ids)
        copies.clear()
        backend.get_instance(ids[4])
        assert len(copies) == 4  # moto's own copies every reservation to find one instance

        plugin("speed.ec2_instances").copy_only_narrowed_reservations()
        assert answers(ec2, ids) == motos
        copies.clear()
        assert backend.get_instance(ids[4]).id == ids[4]
        assert copies == []
        narrowed = ec2.describe_instances(InstanceIds=[ids[0]])["Reservations"]
        assert [len(r["Instances"]) for r in narrowed] == [1] and len(copies) == 1
        assert len(ec2.describe_instances()["Reservations"][0]["Instances"]) == 2  # the reservation itself is whole
