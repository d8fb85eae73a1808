"""AWS SDK clients made once in an execution environment and kept for its later invocations, as Lambda's best
practices advise: "Initialize SDK clients and database connections outside of the function handler"
(https://docs.aws.amazon.com/lambda/latest/dg/best-practices.html). A later invocation reuses a client and its
open connections instead of building the client again and opening a new TLS connection to the service."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config


@cache
def client(service: str, region_name: str | None = None, config: Config | None = None) -> Any:
    """The environment's client for the service, in region_name (else the function's own region)."""
    return boto3.client(service, region_name=region_name, config=config)
