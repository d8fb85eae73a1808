"""Console: the runs page over 1,000 seeded run records (server time, in-process, moto's DynamoDB with the Runs table
as template.yaml defines it), and how often pages polling side by side read the Runs table."""

from __future__ import annotations

import itertools
import os
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from longtask.sources import app_dir
from longtask.template_file import load_template

RECORDS = 1000
STATUSES = ("SUCCEEDED", "FAILED", "RUNNING", "QUEUED", "ABORTED", "TIMED_OUT")


def runs_page(repeats: int = 20) -> dict[str, Any]:
    """Milliseconds to serve `/` (50 runs, newest first) with every answer read afresh."""
    from starlette.testclient import TestClient

    with _seeded() as client:
        from longtask.console.app import create_app

        reading: list[float] = []  # of each page, the time its reads of the table took (moto's, here)
        original = client.list_runs

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                reading.append((time.perf_counter() - started) * 1000)

        client.list_runs = timed  # type: ignore[method-assign]
        app = create_app(client)
        app.state.views.runs.seconds = 0  # no reuse: each page reads the table
        console = TestClient(app, base_url="http://127.0.0.1")
        console.get("/")  # templates compiled
        reading.clear()
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            assert console.get("/").status_code == 200
            samples.append((time.perf_counter() - started) * 1000)
    own = [total - read for total, read in zip(samples, reading, strict=True)]
    return {"records": RECORDS, "page median ms": round(statistics.median(samples), 1),
            "page max ms": round(max(samples), 1), "of which DynamoDB (moto) median ms": round(
                statistics.median(reading), 1), "console's own median ms": round(statistics.median(own), 1),
            "goal ms": 300}  # fmt: skip


def polling(pages: int = 5, every: float = 0.5, seconds: float = 12.0) -> dict[str, Any]:
    """Runs table reads while `pages` pages poll the runs list every `every` s for `seconds` s."""
    from starlette.testclient import TestClient

    with _seeded() as client:
        from longtask.console.app import create_app

        console = TestClient(create_app(client), base_url="http://127.0.0.1")
        lists: list[float] = []
        original = client.list_runs

        def counted(*args: Any, **kwargs: Any) -> Any:
            lists.append(time.monotonic())
            return original(*args, **kwargs)

        client.list_runs = counted  # type: ignore[method-assign]
        end = time.monotonic() + seconds

        def page() -> None:
            while time.monotonic() < end:
                console.get("/fragments/runs")
                time.sleep(every)

        threads = [threading.Thread(target=page) for _ in range(pages)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        gaps = [b - a for a, b in itertools.pairwise(lists)]
    return {"pages": pages, "polls each s": every, "seconds": seconds, "table reads": len(lists),
            "shortest gap s": round(min(gaps), 2) if gaps else None, "goal": "≥ 5 s apart"}  # fmt: skip


class _seeded:
    """A client whose stack's Runs table (moto) holds RECORDS run records over 10 days, 3 queues, 6 statuses."""

    def __enter__(self) -> Any:
        import boto3
        from moto import mock_aws

        from longtask.client import LongTaskClient, Stack, Target
        from longtask.common.record import build_record, to_item

        os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
        self.mock = mock_aws()
        self.mock.start()
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        table = load_template(app_dir() / "template.yaml")["Resources"]["RunsTable"]["Properties"]
        dynamodb.create_table(TableName="runs", BillingMode=table["BillingMode"], **{
            key: table[key] for key in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes")})  # fmt: skip
        start = datetime(2026, 12, 1, tzinfo=UTC)
        for n in range(RECORDS):
            at = (start + timedelta(minutes=15 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            record = build_record(f"run-{n:04d}", STATUSES[n % len(STATUSES)], "bench", {
                "startedAt": at, "launchedAt": at, "queue": ("default", "nightly", "ci")[n % 3],
                "instanceType": "t3a.nano"}, costUsd=0.0001 * (n % 7), exitCode=n % 2)  # fmt: skip
            dynamodb.put_item(TableName="runs", Item=to_item(record))
        client = LongTaskClient.__new__(LongTaskClient)
        client.target = Target(stack_name="bench", region="us-east-1")
        client.stack = Stack("arn:aws:states:us-east-1:123456789012:stateMachine:bench", "bucket", "runs", "reaper")
        client.dynamodb = dynamodb
        return client

    def __exit__(self, *exc: Any) -> None:
        self.mock.stop()
