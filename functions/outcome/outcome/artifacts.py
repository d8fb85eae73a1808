"""Read what the bootstrap uploaded: result.json and the tail of the console log."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from common.keys import RunKeys, live_log_attempt, s3_uri, split_s3_uri

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


def keep_attempt(s3: Any, record: dict[str, Any]) -> None:
    """Keep a relaunched attempt (its record) before the next one writes in its place: its log, copied to
    attempts/<n>/, and its summary there, which the final record lists."""
    bucket, key = split_s3_uri(record["logUri"])
    keys = RunKeys(record["runId"])
    kept = keys.attempt_log(record["attempt"])
    try:
        s3.copy_object(Bucket=bucket, Key=kept, CopySource={"Bucket": bucket, "Key": key})
    except ClientError as error:
        if error.response["Error"]["Code"] not in MISSING:
            raise
    summary = attempt_summary(record, s3_uri(bucket, kept))
    s3.put_object(Bucket=bucket, Key=keys.attempt_summary(record["attempt"]), Body=json.dumps(summary).encode())


def attempt_summary(record: dict[str, Any], log_uri: str | None = None) -> dict[str, Any]:
    """One attempt, as the final record lists it."""
    fields = ("attempt", "instanceId", "instanceType", "spot", "exitCode", "reason", "instanceSeconds", "costUsd")
    return {**{name: record.get(name) for name in fields}, "logUri": log_uri or record["logUri"]}


def read_attempts(s3: Any, bucket: str, run_id: str, count: int) -> list[dict[str, Any]]:
    """The summaries kept of attempts 0 to count - 1 (one that cannot be read: its number only)."""
    summaries = []
    for attempt in range(count):
        try:
            body = s3.get_object(Bucket=bucket, Key=RunKeys(run_id).attempt_summary(attempt))["Body"].read()
            summaries.append(json.loads(body))
        except ClientError as error:
            if error.response["Error"]["Code"] not in MISSING:
                raise
            summaries.append({"attempt": attempt})
    return summaries
