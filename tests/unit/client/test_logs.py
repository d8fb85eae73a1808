"""The client reads a run's log: the live-log chunks while it runs, the whole log once it reported."""

from __future__ import annotations

from typing import Any

import pytest

from longtask import waiting
from longtask.client import LongTaskClient, Target
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


def test_a_follower_reads_the_log_every_interval_and_looks_for_the_end_in_between(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now, calls = [0.0], []
    monkeypatch.setattr(waiting.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(waiting.time, "sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    client = LongTaskClient.__new__(LongTaskClient)
    client.target = Target(endpoint_url="https://127.0.0.1:4566")  # the local engine: end_poll_seconds 0.2
    client.is_final = lambda run_id: calls.append(("end?", now[0])) or now[0] >= 1.3
    client.log_since = lambda run_id, offset: calls.append(("log", now[0])) or b"x"
    assert list(client.follow_log("run-1", interval=1.0)) == [b"x", b"x", b"x"]
    logs = [at for what, at in calls if what == "log"]
    assert logs == [0.0, pytest.approx(1.0), pytest.approx(1.4)]  # the end seen 0.2 s after it, not at 2.0
    assert [at for what, at in calls if what == "end?"][-1] == pytest.approx(1.4)
