"""The client reads a run's log: the live-log chunks while it runs, the whole log once it reported."""

from __future__ import annotations

from typing import Any

from longtask.client import LongTaskClient
from longtask.common.keys import RunKeys

from ..conftest import BUCKET


def client_of(aws: dict[str, Any]) -> LongTaskClient:
    client = LongTaskClient.__new__(LongTaskClient)  # its S3 only: no stack to look up in moto
    client.s3 = aws["s3"]
    uris = RunKeys("run-1").uris(BUCKET)
    client.item = lambda run_id: {"runId": run_id, "status": "RUNNING", **uris}  # the record the launcher wrote
    return client


def chunk(aws: dict[str, Any], attempt: int, sequence: int, text: str) -> None:
    key = f"runs/run-1/live-log/{attempt:02d}-{sequence:06d}.log"
    aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=text.encode())


def test_while_it_runs_the_log_is_the_latest_attempts_chunks_from_the_offset(aws: dict[str, Any]) -> None:
    client = client_of(aws)
    assert client.log_since("run-1", 0) == b""
    chunk(aws, 0, 0, "attempt zero\n")
    chunk(aws, 1, 0, "one\n")
    chunk(aws, 1, 1, "two\n")
    assert client.log_since("run-1", 0) == b"one\ntwo\n"
    assert client.log_since("run-1", 2) == b"e\ntwo\n"
    assert client.log_since("run-1", 8) == b""


def test_once_reported_the_log_is_the_whole_log(aws: dict[str, Any]) -> None:
    client = client_of(aws)
    chunk(aws, 0, 0, "one\n")
    aws["s3"].put_object(Bucket=BUCKET, Key="runs/run-1/cloud-init-output.log", Body=b"one\ntwo\nbye\n")
    assert client.log_since("run-1", 4) == b"two\nbye\n"
    assert client.log_since("run-1", 12) == b""
