"""`longtask destroy` on the local engine: it refuses while a run is RUNNING and deletes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from longtask.client import LongTaskClient

from .engine_session import STACK

pytestmark = pytest.mark.exclusive  # destroy looks at every run of the stack: no other test's may be running


def test_destroy_is_refused_while_a_run_is_running(client: LongTaskClient, longtask: Any) -> None:
    run_id = client.start({"script": "echo started\nsleep 300\n"})
    try:
        result = longtask("destroy")  # without --yes: were the refusal missing, the question would stop it
        assert result.exit_code == 2, result.stderr
        assert f"stack {STACK} has RUNNING runs ({run_id})" in result.stderr and "--force" in result.stderr
        stack = client.target.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
        assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    finally:
        client.abort(run_id)
    assert client.record(run_id)["status"] == "ABORTED"


def test_destroy_asks_before_deleting_and_needs_yes_without_a_terminal(client: LongTaskClient, longtask: Any) -> None:
    result = longtask("destroy")
    assert result.exit_code == 2 and "add --yes where nobody can answer" in result.stderr
    assert "keeps the bucket" in result.stderr and client.target.client("cloudformation").describe_stacks(
        StackName=STACK)["Stacks"]  # fmt: skip
