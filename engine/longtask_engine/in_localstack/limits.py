"""The account limits the local engine enforces: EC2's vCPU quotas and its API token buckets.

Quotas are those of data/quotas.json (what Service Quotas answers); token buckets are as "Request throttling for the
Amazon EC2 API" describes them (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html): a
request bucket per API action, and for RunInstances and TerminateInstances a resource bucket per instance. Tests set
other values in the limits file (LONGTASK_LIMITS_FILE, JSON: {"quotas": {"L-1216C47A": 4}, "buckets":
{"RunInstances": {"size": 10, "refill": 1}, "RunInstances/instances": {...}}}); a new file starts full buckets.
Each refused request is counted by action in `throttled.json` beside it, for tests and benchmarks.
Standard library only: it runs inside LocalStack.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

LIMITS_ENV = "LONGTASK_LIMITS_FILE"
AGENT_USER_AGENT = "longtask-engine-agent"  # the instance agent's clients say so: it draws no tokens
QUOTAS_FILE = Path(__file__).parent / "data" / "quotas.json"
RESOURCE = "/instances"  # a resource bucket's name: the action's, and this
# the page's sizes and refill rates (tokens, tokens a second): the action categories, then the resource buckets
NON_MUTATING = (100, 20)  # Describe*, Get*, List*
MUTATING = (50, 5)
RESOURCE_BUCKETS = {"RunInstances": (1000, 2), "TerminateInstances": (1000, 20)}


@cache
def _default_quotas() -> dict[str, dict[str, dict[str, Any]]]:
    return {service: codes for service, codes in json.loads(QUOTAS_FILE.read_text()).items() if service != "comment"}


class _LimitsFile:
    """The test-set limits, read again when the file changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._values: dict[str, Any] = {}

    def read(self) -> tuple[dict[str, Any], tuple[int, int, int] | None]:
        path = os.environ.get(LIMITS_ENV)
        with self._lock:
            try:
                stat = Path(path).stat() if path else None
            except FileNotFoundError:
                stat = None
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino) if stat else None
            if stamp != self._stamp:
                self._values = json.loads(Path(path).read_text() or "{}") if stamp and path else {}
                self._stamp = stamp
            return self._values, stamp


_FILE = _LimitsFile()


def quota(service: str, code: str) -> dict[str, Any] | None:
    """A quota as Service Quotas names it: {"name", "value"}; None when there is no such quota."""
    known = _default_quotas().get(service, {}).get(code)
    if known is None:
        return None
    values, _ = _FILE.read()
    override = (values.get("quotas") or {}).get(code)
    return known if override is None else {**known, "value": override}


def bucket_shape(name: str) -> tuple[float, float]:
    """(size, refill a second) of a bucket: the limits file's, else the page's."""
    values, _ = _FILE.read()
    given = (values.get("buckets") or {}).get(name)
    if given:
        return float(given["size"]), float(given["refill"])
    if name.endswith(RESOURCE):
        return RESOURCE_BUCKETS[name.removesuffix(RESOURCE)]
    return NON_MUTATING if name.startswith(("Describe", "Get", "List")) else MUTATING


@dataclass
class _Bucket:
    tokens: float
    at: float


def throttled_file() -> Path | None:
    path = os.environ.get(LIMITS_ENV)
    return Path(path).with_name("throttled.json") if path else None


def count_throttled(action: str) -> None:
    """Count one refused request of `action` (the file is rewritten whole: refusals are few a second)."""
    path = throttled_file()
    if path is None:
        return
    with _COUNT_LOCK:
        counts = json.loads(path.read_text()) if path.exists() else {}
        counts[action] = counts.get(action, 0) + 1
        path.write_text(json.dumps(counts))


_COUNT_LOCK = threading.Lock()


class TokenBuckets:
    """The account's buckets per Region; `take` answers False when a bucket lacks the tokens (nothing is taken)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock, self._lock = clock, threading.Lock()
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self._stamp: Any = None

    def take(self, account: str, region: str, wanted: dict[str, int]) -> str | None:
        """Take tokens from each named bucket, all or none: None when taken, else the bucket that lacks them."""
        _, stamp = _FILE.read()
        now = self._clock()
        with self._lock:
            if stamp != self._stamp:  # new limits: full buckets
                self._buckets, self._stamp = {}, stamp
            buckets = {}
            for name, count in wanted.items():
                size, refill = bucket_shape(name)
                bucket = self._buckets.setdefault((account, region, name), _Bucket(size, now))
                bucket.tokens, bucket.at = min(size, bucket.tokens + (now - bucket.at) * refill), now
                if bucket.tokens < count:
                    return name
                buckets[name] = bucket
            for name, count in wanted.items():
                buckets[name].tokens -= count
            return None
