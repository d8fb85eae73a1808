"""The launcher handler, as Step Functions invokes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from common.clients import client
from common.record import build_record, from_item
from launcher.app import lambda_handler
from launcher.errors import InvalidInput

from ..conftest import instances


@dataclass
class Context:
    function_name: str = "launcher"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:launcher"
    aws_request_id: str = "request-1"


def event(run_input: Any, run_id: str = "run-7") -> dict[str, Any]:
    arn = f"arn:aws:states:us-east-1:123456789012:execution:longtask:{run_id}"
    return {"input": run_input, "execution": {"arn": arn, "name": run_id}}


def test_handler_returns_the_launch_and_the_runs_item(aws: dict[str, Any]) -> None:
    started = lambda_handler(event({"script": "echo hi"}), Context())
    launch, item = started["launch"], started["item"]
    assert launch["runId"] == "run-7"
    assert [i["InstanceId"] for i in instances(aws["ec2"])] == [launch["instanceId"]]
    assert from_item(item) == {name: value for name, value in build_record("run-7", "RUNNING", None, launch).items()
                               if value not in (None, [])}  # fmt: skip
    assert "expiresAt" not in item  # a running run's item never expires


def test_handler_error_name_is_what_the_workflow_catches(aws: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as raised:
        lambda_handler(event({"script": "echo hi", "pollSeconds": 0}), Context())
    assert type(raised.value).__name__ == "InvalidInput"
    assert instances(aws["ec2"]) == []


def test_an_environment_makes_its_clients_once(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Later invocations reuse the clients (and their connections) the first one made (common/clients.py)."""
    made, make = [], boto3.client

    def counted(service: str, **settings: Any) -> Any:
        made.append(service)
        return make(service, **settings)

    monkeypatch.setattr(boto3, "client", counted)
    client.cache_clear()  # a new environment
    lambda_handler(event({"script": "echo hi"}), Context())
    first = list(made)
    lambda_handler(event({"script": "echo hi"}, "run-8"), Context())
    assert {"ec2", "s3"} <= set(first) and made == first


def test_a_run_launched_beside_many_polls_no_faster_than_the_fleets_share(aws: dict[str, Any],
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("launcher.app._CAPACITY", None)  # what another test's environment read of the account
    aws["ec2"].run_instances(ImageId="ami-12345678", MinCount=25, MaxCount=25, InstanceType="t3a.nano")
    launch = lambda_handler(event({"script": "echo hi", "pollSeconds": 1}), Context())["launch"]
    assert launch["windows"][0]["seconds"] == 3  # 26 instances polling at most 10 times a second in all
