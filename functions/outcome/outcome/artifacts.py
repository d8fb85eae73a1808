"""Read what the bootstrap uploaded: result.json and the tail of the console log."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

LOG_TAIL_BYTES = 4096
# Without s3:ListBucket on the bucket, S3 answers a missing key with 403 AccessDenied instead of 404 NoSuchKey
# (S3 API reference, GetObject, "Permissions"): both mean "not there" to a reader that may read the key.
MISSING = frozenset({"NoSuchKey", "404", "NotFound", "AccessDenied", "403"})


def read_result(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The run's result.json, or None when the instance never wrote one (or it cannot be read)."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response["Error"]["Code"] in MISSING:
            return None
        raise
    try:
        result = json.loads(body)
    except ValueError:
        return None
    return result if isinstance(result, dict) and isinstance(result.get("exitCode"), int) else None


def read_log_tail(s3: Any, bucket: str, key: str) -> str:
    """The last few KB of the console log ("" when there is none)."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{LOG_TAIL_BYTES}")
    except ClientError as error:
        if error.response["Error"]["Code"] in MISSING or error.response["Error"]["Code"] == "InvalidRange":
            return ""
        raise
    tail = response["Body"].read()[-LOG_TAIL_BYTES:].decode("utf-8", errors="replace")
    truncated = "/" in response.get("ContentRange", "") and not response["ContentRange"].startswith("bytes 0-")
    return tail.split("\n", 1)[-1] if truncated and "\n" in tail else tail


def keep_attempt_log(s3: Any, bucket: str, prefix: str, attempt: int) -> None:
    """Copy an interrupted attempt's log aside before a relaunch writes a new one in its place."""
    try:
        s3.copy_object(
            Bucket=bucket,
            Key=f"{prefix}/attempts/{attempt}/cloud-init-output.log",
            CopySource={"Bucket": bucket, "Key": f"{prefix}/cloud-init-output.log"},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] not in MISSING:
            raise
