"""A LocalStack DynamoDB provider backed by moto, for machines without Java and DynamoDB Local.

LocalStack's own DynamoDB provider starts DynamoDB Local (Java 21 and a jar it downloads): neither
is available offline. This provider serves the same API from moto's in-memory DynamoDB, which
covers what the application uses (tables, PutItem, UpdateItem, GetItem, Query, Scan, TransactWriteItems).

Writes take turns. DynamoDB applies a conditional write atomically, and a transaction in isolation, serializable
with every other write (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html,
"Conditional writes"; https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html,
"Isolation levels"). moto checks a condition and then writes, and LocalStack serves requests on many threads:
two writes checked at once both passed, and a queue's slot count went below zero. Selected with
PROVIDER_OVERRIDE_DYNAMODB=longtask; found through the entry point `localstack.aws.provider`.
"""

from __future__ import annotations

import threading
from typing import Any

from localstack.aws.api import RequestContext, handler
from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.moto import call_moto
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider

WRITES = threading.Lock()


class MotoDynamoDBProvider(DynamodbApi, ServiceLifecycleHook):
    """Every operation falls through to moto; writes one at a time."""

    @handler("PutItem", expand=False)
    def put_item(self, context: RequestContext, request: dict) -> Any:
        with WRITES:
            return call_moto(context)

    @handler("UpdateItem", expand=False)
    def update_item(self, context: RequestContext, request: dict) -> Any:
        with WRITES:
            return call_moto(context)

    @handler("DeleteItem", expand=False)
    def delete_item(self, context: RequestContext, request: dict) -> Any:
        with WRITES:
            return call_moto(context)

    @handler("BatchWriteItem", expand=False)
    def batch_write_item(self, context: RequestContext, request: dict) -> Any:
        with WRITES:
            return call_moto(context)

    @handler("TransactWriteItems", expand=False)
    def transact_write_items(self, context: RequestContext, request: dict) -> Any:
        with WRITES:
            return call_moto(context)


@aws_provider(api="dynamodb", name="longtask")
def dynamodb_longtask() -> Service:
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)
