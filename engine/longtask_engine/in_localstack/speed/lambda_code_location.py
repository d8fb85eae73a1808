"""Presign a Lambda function's code location with one S3 client per endpoint: LocalStack 4.9.2 builds a new boto3
client for every GetFunction only to presign it, and CloudFormation calls GetFunction at each look at a function
it creates. Presigning is the same for the same endpoint and credentials, and a client may be shared between
threads (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html#multithreading-or-multiprocessing-with-clients).
Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from localstack.runtime import hooks

from longtask_engine.in_localstack.speed import speed_only

ENDPOINTS = 16  # LocalStack presigns for its own endpoint(s); bounded all the same


@hooks.on_infra_start()
@speed_only
def presign_code_locations_with_one_client() -> None:
    import boto3
    from localstack import config
    from localstack.constants import AWS_REGION_US_EAST_1, INTERNAL_AWS_SECRET_ACCESS_KEY
    from localstack.services.lambda_.invocation.lambda_models import S3Code

    @lru_cache(maxsize=ENDPOINTS)
    def s3_client(endpoint_url: str) -> Any:  # the client LocalStack makes each time, made once
        return boto3.client("s3", region_name=AWS_REGION_US_EAST_1, endpoint_url=endpoint_url,
                            aws_access_key_id=config.INTERNAL_RESOURCE_ACCOUNT,
                            aws_secret_access_key=INTERNAL_AWS_SECRET_ACCESS_KEY)  # fmt: skip

    def generate_presigned_url(self: S3Code, endpoint_url: str) -> str:
        params = {"Bucket": self.s3_bucket, "Key": self.s3_key}
        if self.s3_object_version:
            params["VersionId"] = self.s3_object_version
        return s3_client(endpoint_url).generate_presigned_url("get_object", Params=params)

    S3Code.generate_presigned_url = generate_presigned_url
