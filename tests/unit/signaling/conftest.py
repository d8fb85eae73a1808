"""The Runs table, as the template defines it, in moto's DynamoDB: what the signal function reads and writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ..conftest import REGION, create_runs_table

TABLE = "runs"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_runs_table(client, TABLE)
        yield client
