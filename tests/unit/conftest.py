"""Unit-test fixtures: moto in place of AWS, and the launcher's environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from longtask_engine.host.network import give_default_vpc_an_internet_gateway
from longtask_engine.in_localstack import prices
from moto import mock_aws
from moto.core.config import default_user_config

from longtask.template_file import load_template

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "longtask-test-artifacts"
REGION = "us-east-1"
RUNS_TABLE = "longtask-runs"
QUEUES_TABLE = "longtask-queues"

# one boto3 session for all the tests of a worker (moto's setting; by default each mock starts with a new one), so
# that botocore reads each service's model once, not in every test: the unit tests' CPU 102 s -> 58 s on 4 workers
default_user_config["core"]["reset_boto3_session"] = False


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and the launcher's settings; never the network."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "ARTIFACT_BUCKET": BUCKET,
        "STACK_NAME": "longtask-test",
        "DEFAULT_IMAGE_ID": "ami-12345678",
        "DEFAULT_INSTANCE_TYPES": "t3a.nano,t3.nano",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "LongTask",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",  # moto's own images, read at each mock's start: 0.3 s, none used
        "RUNS_TABLE": RUNS_TABLE,
        "QUEUES_TABLE": QUEUES_TABLE,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """moto's EC2 (its default VPC shaped like a fresh account's) and S3 with the artifact bucket."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        ec2 = boto3.client("ec2", region_name=REGION)
        give_default_vpc_an_internet_gateway(ec2)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_runs_table(dynamodb, RUNS_TABLE)
        create_table(dynamodb, "QueuesTable", QUEUES_TABLE)
        yield {"ec2": ec2, "s3": s3, "dynamodb": dynamodb}


def create_runs_table(dynamodb: Any, name: str) -> None:
    """The Runs table as template.yaml defines it (its one schema: keys, indexes)."""
    create_table(dynamodb, "RunsTable", name)


def create_table(dynamodb: Any, resource: str, name: str) -> None:
    """A table of template.yaml, as it defines it (keys, indexes)."""
    table = load_template(ROOT / "template.yaml")["Resources"][resource]["Properties"]
    schema = {
        key: table[key] for key in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes") if key in table
    }
    dynamodb.create_table(TableName=name, BillingMode=table["BillingMode"], **schema)


def instances(ec2: Any) -> list[dict[str, Any]]:
    return [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]


class LocalPriceList:
    """A Price List API client answering from the local engine's prices (longtask_engine/in_localstack/prices.py)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def get_paginator(self, operation: str) -> LocalPriceList:
        assert operation == "get_products"
        return self

    def paginate(self, **request: Any) -> list[dict[str, Any]]:
        self.requests.append(request)
        return [prices.get_products(request)]


@pytest.fixture
def price_list() -> Iterator[LocalPriceList]:
    """The local Price List, with the price caches of common/pricing.py emptied before and after."""
    from common import pricing

    for cache in (pricing._ON_DEMAND, pricing._STORAGE):
        cache.clear()
    yield LocalPriceList()
    for cache in (pricing._ON_DEMAND, pricing._STORAGE):
        cache.clear()
