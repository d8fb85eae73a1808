"""Launcher: time from invocation to the RunInstances call, for a small and a 16 KB+ script (in-process, moto)."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

SMALL = "echo hello\n"
LARGE = "echo line > /dev/null\n" * 1000  # 22 KB: staged in S3


def time_to_run_instances(script: str, repeats: int = 20) -> dict[str, float]:
    import boto3
    from moto import mock_aws

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      ARTIFACT_BUCKET="bench", DEFAULT_IMAGE_ID="ami-12345678")  # fmt: skip
    from launcher.runs import Execution, start_run
    from launcher.settings import Settings
    from longtask_engine.host.network import give_default_vpc_an_internet_gateway

    samples = []
    with mock_aws():
        s3, ec2 = boto3.client("s3"), boto3.client("ec2")
        s3.create_bucket(Bucket="bench")
        give_default_vpc_an_internet_gateway(ec2)  # a fresh account's default VPC: the launch preflight passes
        reached: dict[str, float] = {}

        def mark(**_: Any) -> None:
            reached.setdefault("at", time.perf_counter())

        ec2.meta.events.register("before-call.ec2.RunInstances", mark)
        for n in range(repeats):
            reached.clear()
            started = time.perf_counter()
            execution = Execution(f"arn:aws:states:us-east-1:123456789012:execution:bench:run-{n}", f"run-{n}")
            start_run({"script": script}, execution, Settings.from_environment(), ec2, s3)
            samples.append((reached["at"] - started) * 1000)
    return {"median ms": statistics.median(samples), "max ms": max(samples), "script bytes": len(script.encode())}
