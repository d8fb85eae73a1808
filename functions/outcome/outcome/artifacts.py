"""Read what the bootstrap uploaded: result.json and the tail of the console log."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from common.keys import RunKeys, live_log_attempt, split_s3_uri

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


def read_log_tail(s3: Any, log_uri: str, live_log_uri: str) -> str:
    """The last few KB of the console log; without it (the instance never reported), of the live-log chunks it
    uploaded while it ran ("" when there is neither)."""
    bucket, key = split_s3_uri(log_uri)
    try:
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{LOG_TAIL_BYTES}")
    except ClientError as error:
        if error.response["Error"]["Code"] == "InvalidRange":
            return ""
        if error.response["Error"]["Code"] in MISSING:
            return _live_log_tail(s3, *split_s3_uri(live_log_uri))
        raise
    tail = response["Body"].read()[-LOG_TAIL_BYTES:].decode("utf-8", errors="replace")
    truncated = "/" in response.get("ContentRange", "") and not response["ContentRange"].startswith("bytes 0-")
    return tail.split("\n", 1)[-1] if truncated and "\n" in tail else tail


def _live_log_tail(s3: Any, bucket: str, prefix: str) -> str:
    """The tail of the latest attempt's live-log chunks (live-log/<attempt>-<sequence>.log, in order)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
    if not keys:
        return ""
    attempt = live_log_attempt(keys[-1])
    tail = b""
    for key in reversed([k for k in keys if live_log_attempt(k) == attempt]):
        tail = s3.get_object(Bucket=bucket, Key=key)["Body"].read() + tail
        if len(tail) >= LOG_TAIL_BYTES:
            break
    text = tail[-LOG_TAIL_BYTES:].decode("utf-8", errors="replace")
    return text.split("\n", 1)[-1] if len(tail) > LOG_TAIL_BYTES and "\n" in text else text


def keep_attempt_log(s3: Any, run_id: str, log_uri: str, attempt: int) -> None:
    """Copy an interrupted attempt's log aside (attempts/<n>/) before a relaunch writes a new one in its place."""
    bucket, key = split_s3_uri(log_uri)
    try:
        kept = RunKeys(run_id).attempt_log(attempt)
        s3.copy_object(Bucket=bucket, Key=kept, CopySource={"Bucket": bucket, "Key": key})
    except ClientError as error:
        if error.response["Error"]["Code"] not in MISSING:
            raise
