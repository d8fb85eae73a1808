"""The engine's account limits: EC2's token buckets as the throttling page describes them, and quotas a test sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from longtask_engine.in_localstack import limits


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limits_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "limits.json"
    monkeypatch.setenv(limits.LIMITS_ENV, str(path))
    return path


def test_a_bucket_refuses_past_its_size_and_refills_at_its_rate(limits_file: Path) -> None:
    limits_file.write_text(json.dumps({"buckets": {"RunInstances": {"size": 3, "refill": 0.5}}}))
    clock = Clock()
    buckets = limits.TokenBuckets(clock)
    taken = [buckets.take("1", "r", {"RunInstances": 1}) for _ in range(4)]
    assert taken == [None, None, None, "RunInstances"]
    clock.now = 1.0  # half a token
    assert buckets.take("1", "r", {"RunInstances": 1}) == "RunInstances"
    clock.now = 2.0  # one
    assert buckets.take("1", "r", {"RunInstances": 1}) is None
    assert buckets.take("2", "r", {"RunInstances": 1}) is None  # another account has buckets of its own


def test_a_request_takes_from_every_bucket_or_from_none(limits_file: Path) -> None:
    limits_file.write_text(json.dumps({"buckets": {"RunInstances/instances": {"size": 2, "refill": 0}}}))
    buckets = limits.TokenBuckets(Clock())
    assert buckets.take("1", "r", {"RunInstances": 1, "RunInstances/instances": 3}) == "RunInstances/instances"
    assert buckets.take("1", "r", {"RunInstances": 1, "RunInstances/instances": 2}) is None


def test_the_pages_sizes_apply_unless_a_test_sets_others(limits_file: Path) -> None:
    assert limits.bucket_shape("DescribeInstances") == (100, 20)
    assert limits.bucket_shape("TerminateInstances") == (50, 5)
    assert limits.bucket_shape("RunInstances/instances") == (1000, 2)
    limits_file.write_text(json.dumps({"quotas": {"L-1216C47A": 4}}))
    assert limits.quota("ec2", "L-1216C47A")["value"] == 4
    limits_file.unlink()
    assert limits.quota("ec2", "L-1216C47A")["value"] == 512
    assert limits.quota("ec2", "L-NOPE") is None


def test_new_limits_start_full_buckets(limits_file: Path) -> None:
    limits_file.write_text(json.dumps({"buckets": {"RunInstances": {"size": 1, "refill": 0}}}))
    buckets = limits.TokenBuckets(Clock())
    assert buckets.take("1", "r", {"RunInstances": 1}) is None
    assert buckets.take("1", "r", {"RunInstances": 1}) == "RunInstances"
    limits_file.write_text(json.dumps({"buckets": {"RunInstances": {"size": 2, "refill": 0}}}))
    assert buckets.take("1", "r", {"RunInstances": 1}) is None
