"""The engine's tag lookup for moto's EC2: the same answer as moto's own, read by the resource's id."""

from __future__ import annotations

import types
from collections.abc import Callable

import boto3
import pytest
from moto import mock_aws
from moto.ec2.models.core import TaggedEC2Resource


def test_each_resource_gets_the_tags_moto_would_give_it(
    plugin: Callable[[str], types.ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TaggedEC2Resource, "get_tags", TaggedEC2Resource.get_tags)  # put back after the test
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        image = "ami-12345678"
        tags = [{"Key": "longtask:run-id", "Value": "run-1"}, {"Key": "Name", "Value": "a*b?"}]
        ec2.run_instances(ImageId=image, MinCount=3, MaxCount=3, TagSpecifications=[
            {"ResourceType": "instance", "Tags": tags}, {"ResourceType": "volume", "Tags": tags[:1]}])  # fmt: skip
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)  # untagged
        from moto.ec2.models import ec2_backends

        backend = ec2_backends["123456789012"]["us-east-1"]
        resources = [*backend.all_instances(), *backend.volumes.values()]
        before = [resource.get_tags() for resource in resources]
        plugin("speed.ec2_tags").read_tags_by_resource_id()
        assert [resource.get_tags() for resource in resources] == before
        assert sum(1 for tags in before if tags) == 6 and [] in before
        filtered = ec2.describe_instances(Filters=[{"Name": "tag:longtask:run-id", "Values": ["run-1"]}])
        assert len(filtered["Reservations"][0]["Instances"]) == 3
