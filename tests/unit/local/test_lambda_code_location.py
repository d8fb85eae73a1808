"""What the engine loads into LocalStack to presign a function's code location (speed/lambda_code_location.py):
the URL LocalStack's own code presigns, from one S3 client per endpoint."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import boto3
import pytest


@dataclass
class S3Code:
    s3_bucket: str
    s3_key: str
    s3_object_version: str | None = None


@pytest.fixture
def presign(plugin: Callable[[str], types.ModuleType], monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Load the plug-in over stand-ins for LocalStack's modules; return the clients boto3 was asked for."""
    modules = {
        "localstack.config": {"INTERNAL_RESOURCE_ACCOUNT": "949334387222"},
        "localstack.constants": {"AWS_REGION_US_EAST_1": "us-east-1", "INTERNAL_AWS_SECRET_ACCESS_KEY": "internal"},
        "localstack.services.lambda_.invocation.lambda_models": {"S3Code": S3Code},
    }
    for name in ("localstack.services", "localstack.services.lambda_", "localstack.services.lambda_.invocation"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    for name, attributes in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(sys.modules["localstack"], "config", sys.modules["localstack.config"], raising=False)
    asked: list[dict] = []
    make = boto3.client
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: asked.append(kwargs) or make(*args, **kwargs))
    monkeypatch.delattr(S3Code, "generate_presigned_url", raising=False)
    plugin("speed.lambda_code_location").presign_code_locations_with_one_client()
    return asked


def test_the_code_location_is_presigned_for_its_object_with_one_client(presign: list[dict]) -> None:
    endpoint = "https://127.0.0.1:4566"
    url = urlparse(S3Code("awslambda-us-east-1-tasks", "snapshots/fn-1", "v7").generate_presigned_url(endpoint))
    assert f"{url.scheme}://{url.netloc}" == endpoint and url.path == "/awslambda-us-east-1-tasks/snapshots/fn-1"
    query = parse_qs(url.query)
    assert query["versionId"] == ["v7"] and query["AWSAccessKeyId"] == ["949334387222"]
    assert "versionId" not in S3Code("b", "k").generate_presigned_url(endpoint)
    assert len(presign) == 1 and presign[0]["endpoint_url"] == endpoint  # one client, reused
