"""Make LocalStack's S3 honour ExpectedBucketOwner (header `x-amz-expected-bucket-owner`) as AWS does: a request
naming an account that does not own the bucket is refused with 403 Access Denied
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html). LocalStack 4.9.2 takes the
parameter and ignores it. Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

HEADER = "x-amz-expected-bucket-owner"


@hooks.on_infra_start()
def check_the_expected_bucket_owner() -> None:
    from localstack.services.s3.provider import S3Provider

    find_bucket, head_bucket = S3Provider._get_cross_account_bucket, S3Provider.head_bucket

    def checking_the_owner(self: S3Provider, context: Any, bucket_name: str, *,
                           expected_bucket_owner: str | None = None) -> Any:  # fmt: skip
        expected = expected_bucket_owner or context.request.headers.get(HEADER)
        return find_bucket(self, context, bucket_name, expected_bucket_owner=expected)

    def head_checking_the_owner(self: S3Provider, context: Any, bucket: str, *args: Any, **kwargs: Any) -> Any:
        answer = head_bucket(self, context, bucket, *args, **kwargs)  # 404 for no such bucket, as before
        checking_the_owner(self, context, bucket)
        return answer

    S3Provider._get_cross_account_bucket = checking_the_owner
    S3Provider.head_bucket = head_checking_the_owner
