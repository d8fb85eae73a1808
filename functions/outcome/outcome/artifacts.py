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
    """The last few KB of the console log; without it (the instance never reported), of the live-log chunks it
    uploaded while it ran ("" when there is neither)."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{LOG_TAIL_BYTES}")
    except ClientError as error:
        if error.response["Error"]["Code"] == "InvalidRange":
            return ""
        if error.response["Error"]["Code"] in MISSING:
            return _live_log_tail(s3, bucket, key.rsplit("/", 1)[0])
        raise
    tail = response["Body"].read()[-LOG_TAIL_BYTES:].decode("utf-8", errors="replace")
    truncated = "/" in response.get("ContentRange", "") and not response["ContentRange"].startswith("bytes 0-")
    return tail.split("\n", 1)[-1] if truncated and "\n" in tail else tail


def _live_log_tail(s3: Any, bucket: str, prefix: str) -> str:
    """The tail of the latest attempt's live-log chunks (live-log/<attempt>-<sequence>.log, in order)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/live-log/")
    keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
    if not keys:
        return ""
    attempt = keys[-1].rsplit("/", 1)[1].split("-")[0]
    tail = b""
    for key in reversed([k for k in keys if k.rsplit("/", 1)[1].startswith(f"{attempt}-")]):
        tail = s3.get_object(Bucket=bucket, Key=key)["Body"].read() + tail
        if len(tail) >= LOG_TAIL_BYTES:
            break
    text = tail[-LOG_TAIL_BYTES:].decode("utf-8", errors="replace")
    return text.split("\n", 1)[-1] if len(tail) > LOG_TAIL_BYTES and "\n" in text else text


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
