"""`longtask deploy` and `longtask destroy` on the local engine, through change sets, as on AWS (--aws)."""

from __future__ import annotations

from typing import Any

from longtask.client import LongTaskClient

DEPLOYED = "longtask-it-deploy"  # a stack of its own: the suite's stack stays as it is


def stack_status(client: LongTaskClient, stack: str) -> str | None:
    stacks = client.target.client("cloudformation").list_stacks()["StackSummaries"]
    return next((s["StackStatus"] for s in stacks if s["StackName"] == stack and s["StackStatus"] != "DELETE_COMPLETE"),
                None)  # fmt: skip


def test_deploy_change_redeploy_and_destroy(client: LongTaskClient, longtask: Any) -> None:
    created = longtask("deploy", "--stack", DEPLOYED, "--yes")
    assert created.code == 0, created.stderr
    assert "CREATE_COMPLETE" in created.stderr and "StateMachineArn" in created.stdout
    changed = longtask("deploy", "--stack", DEPLOYED, "--parameter", "DefaultPollSeconds=2", "--yes")
    assert changed.code == 0, changed.stderr
    assert "Modify" in changed.stderr and "UPDATE_COMPLETE" in changed.stderr
    again = longtask("deploy", "--stack", DEPLOYED, "--yes")
    assert again.code == 0 and "is up to date: nothing to deploy" in again.stderr, again.stderr
    destroyed = longtask("destroy", "--stack", DEPLOYED, "--yes", "--delete-runs")
    assert destroyed.code == 0, destroyed.stderr
    assert stack_status(client, DEPLOYED) is None


def test_deploy_names_a_bad_parameter_and_deploys_nothing(client: LongTaskClient, longtask: Any) -> None:
    unknown = longtask("deploy", "--stack", "longtask-it-bad", "--parameter", "PollSeconds=5", "--yes")
    assert unknown.code == 2 and "unknown parameter PollSeconds; template.yaml's are InstanceTypes" in unknown.stderr
    refused = longtask("deploy", "--stack", "longtask-it-bad", "--parameter", "ImageId=ubuntu", "--yes")
    assert refused.code == 2 and "CloudFormation refused the deploy" in refused.stderr, refused.stderr
    assert stack_status(client, "longtask-it-bad") is None


def test_deploy_asks_before_applying_and_never_waits_without_a_terminal(client: LongTaskClient, longtask: Any) -> None:
    result = longtask("deploy", "--stack", "longtask-it-unasked")
    assert result.code == 2 and "add --yes where nobody can answer" in result.stderr, result.stderr
    assert stack_status(client, "longtask-it-unasked") is None  # the creating change set's stack is gone too
