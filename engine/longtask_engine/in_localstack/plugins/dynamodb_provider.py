"""A LocalStack DynamoDB provider backed by moto, for machines without Java and DynamoDB Local.

LocalStack's own DynamoDB provider starts DynamoDB Local (Java 21 and a jar it downloads): neither
is available offline. This provider serves the same API from moto's in-memory DynamoDB, which
covers what the application uses (tables, PutItem, UpdateItem, GetItem, Query, Scan). Selected
with PROVIDER_OVERRIDE_DYNAMODB=longtask; found through the entry point `localstack.aws.provider`.
"""

from __future__ import annotations

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider


class MotoDynamoDBProvider(DynamodbApi, ServiceLifecycleHook):
    """Every operation falls through to moto."""


@aws_provider(api="dynamodb", name="longtask")
def dynamodb_longtask() -> Service:
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)
