"""`longtask deploy` and `longtask destroy` on the local engine, through change sets, as on AWS (--aws)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

DEPLOYED = "longtask-it-deploy"  # a stack of its own: the suite's stack stays as it is


@pytest.fixture
def no_stack(client: LongTaskClient) -> Iterator[str]:
    """DEPLOYED does not exist before the test, nor after it."""
    cloudformation = client.target.client("cloudformation")

    def delete() -> None:
        if stack_status(client, DEPLOYED) is not None:
            cloudformation.delete_stack(StackName=DEPLOYED)
            assert poll_condition(lambda: stack_status(client, DEPLOYED) is None, timeout=120)

    delete()
    yield DEPLOYED
    delete()


def stack_status(client: LongTaskClient, stack: str) -> str | None:
    stacks = client.target.client("cloudformation").list_stacks()["StackSummaries"]
    return next((s["StackStatus"] for s in stacks if s["StackName"] == stack and s["StackStatus"] != "DELETE_COMPLETE"),
                None)  # fmt: skip


def test_deploy_change_redeploy_and_destroy(client: LongTaskClient, longtask: Any, no_stack: str) -> None:
    created = longtask("deploy", "--stack", DEPLOYED, "--yes")
    assert created.exit_code == 0, created.stderr
    assert "CREATE_COMPLETE" in created.stderr and "StateMachineArn" in created.stdout
    changed = longtask("deploy", "--stack", DEPLOYED, "--parameter", "DefaultPollSeconds=2", "--yes")
    assert changed.exit_code == 0, changed.stderr
    assert "Modify" in changed.stderr and "UPDATE_COMPLETE" in changed.stderr
    again = longtask("deploy", "--stack", DEPLOYED, "--yes")
    assert again.exit_code == 0 and "is up to date: nothing to deploy" in again.stderr, again.stderr
    outputs = {o["OutputKey"]: o["OutputValue"] for o in client.target.client("cloudformation").describe_stacks(
        StackName=DEPLOYED)["Stacks"][0]["Outputs"]}  # fmt: skip
    destroyed = longtask("destroy", "--stack", DEPLOYED, "--yes")
    assert destroyed.exit_code == 0, destroyed.stderr
    assert stack_status(client, DEPLOYED) is None
    # DeletionPolicy: Retain: the runs' bucket and table outlive the stack (removed here by hand)
    s3, dynamodb = client.target.client("s3"), client.target.client("dynamodb")
    s3.head_bucket(Bucket=outputs["ArtifactBucketName"])
    assert dynamodb.describe_table(TableName=outputs["RunsTableName"])["Table"]["TableStatus"] == "ACTIVE"
    from longtask.destroy import _empty_and_delete_bucket

    _empty_and_delete_bucket(s3, outputs["ArtifactBucketName"])
    dynamodb.delete_table(TableName=outputs["RunsTableName"])


def test_deploy_names_a_bad_parameter_and_deploys_nothing(client: LongTaskClient, longtask: Any) -> None:
    unknown = longtask("deploy", "--stack", "longtask-it-bad", "--parameter", "PollSeconds=5", "--yes")
    assert unknown.exit_code == 2, unknown.stderr
    assert "unknown parameter PollSeconds; template.yaml's are InstanceTypes" in unknown.stderr
    refused = longtask("deploy", "--stack", "longtask-it-bad", "--parameter", "ImageId=ubuntu", "--yes")
    assert refused.exit_code == 2, refused.stderr
    assert "CloudFormation refused the deploy: Parameter 'ImageId' must match pattern" in refused.stderr
    assert stack_status(client, "longtask-it-bad") is None


def test_deploy_asks_before_applying_and_never_waits_without_a_terminal(client: LongTaskClient, longtask: Any) -> None:
    result = longtask("deploy", "--stack", "longtask-it-unasked")
    assert result.exit_code == 2 and "add --yes where nobody can answer" in result.stderr, result.stderr
    assert stack_status(client, "longtask-it-unasked") is None  # the creating change set's stack is gone too


def _template(failing: bool, suffix: str) -> str:
    """Two buckets, one Retain and one RetainExceptOnCreate, and (failing) a third that S3 refuses, made last."""
    resources: dict[str, Any] = {
        "Kept": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                 "Properties": {"BucketName": f"longtask-it-kept-{suffix}"}},
        "KeptUnlessCreating": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "RetainExceptOnCreate",
                               "UpdateReplacePolicy": "Retain",
                               "Properties": {"BucketName": f"longtask-it-unless-{suffix}"}},
    }  # fmt: skip
    if failing:
        resources["Refused"] = {"Type": "AWS::S3::Bucket", "DependsOn": ["Kept", "KeptUnlessCreating"],
                                "Properties": {"BucketName": "Not_A_Valid_Bucket_Name"}}  # fmt: skip
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})


def _buckets(client: LongTaskClient) -> set[str]:
    return {b["Name"] for b in client.target.client("s3").list_buckets()["Buckets"]}


@pytest.mark.parametrize("failing", [True, False], ids=["failed create", "deleted stack"])
def test_retain_except_on_create_is_deleted_only_when_its_create_rolls_back(client: LongTaskClient, failing: bool
                                                                           ) -> None:  # fmt: skip
    """A failed first deploy leaves nothing behind but what is Retain; a deleted stack keeps both (AWS's
    DeletionPolicy: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html)."""
    from longtask.deployment import ChangeSet, create_change_set, execute

    cloudformation, stack = client.target.client("cloudformation"), f"longtask-it-retain-{int(failing)}"
    suffix = secrets.token_hex(4)
    made = create_change_set(cloudformation, stack, _template(failing, suffix), {}, None)
    assert isinstance(made, ChangeSet)
    list(execute(cloudformation, stack, made))
    try:
        if failing:
            assert stack_status(client, stack) == "ROLLBACK_COMPLETE"
            statuses = {e["LogicalResourceId"]: e["ResourceStatus"] for e in reversed(
                cloudformation.describe_stack_events(StackName=stack)["StackEvents"])}  # fmt: skip
            assert statuses["Kept"] == "DELETE_SKIPPED" and statuses["KeptUnlessCreating"] == "DELETE_COMPLETE"
        else:
            assert stack_status(client, stack) == "CREATE_COMPLETE"
        cloudformation.delete_stack(StackName=stack)
        assert poll_condition(lambda: stack_status(client, stack) is None, timeout=60)
        left = _buckets(client)
        assert f"longtask-it-kept-{suffix}" in left
        assert (f"longtask-it-unless-{suffix}" in left) is not failing
    finally:
        for name in (f"longtask-it-kept-{suffix}", f"longtask-it-unless-{suffix}"):
            if name in _buckets(client):
                client.target.client("s3").delete_bucket(Bucket=name)


def test_a_deployment_bucket_someone_else_claimed_is_never_used(client: LongTaskClient) -> None:
    """Another account creates the bucket names first: ours is found among our own buckets, and a call naming our
    account as the expected owner of theirs is refused 403 (ExpectedBucketOwner). A region of its own: the
    suite's deploys use us-east-1's bucket."""
    import boto3
    from botocore.exceptions import ClientError

    from longtask.deployment import artifact_bucket

    region, ours_id, theirs_id = "eu-west-1", "000000000000", "111111111111"

    def s3_of(account: str) -> Any:
        return boto3.client("s3", region_name=region, endpoint_url=client.target.endpoint_url,
                            aws_access_key_id=account, aws_secret_access_key="test",
                            verify=client.target.ca_bundle)  # fmt: skip

    ours, theirs = s3_of(ours_id), s3_of(theirs_id)
    sniped = f"longtask-deployment-{ours_id}-{region}-{secrets.token_hex(4)}"
    theirs.create_bucket(Bucket=sniped, CreateBucketConfiguration={"LocationConstraint": region})
    try:
        bucket = artifact_bucket(ours, ours_id, region)
        assert bucket.name != sniped and bucket.owner == ours_id
        for call, arguments in ((ours.head_bucket, {}), (ours.put_object, {"Key": "x", "Body": b"x"}),
                                (ours.head_object, {"Key": "x"})):  # fmt: skip
            with pytest.raises(ClientError) as refused:
                call(Bucket=sniped, ExpectedBucketOwner=ours_id, **arguments)
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, call
        theirs.put_object(Bucket=sniped, Key="x", Body=b"x", ExpectedBucketOwner=theirs_id)  # the owner's own
        ours.head_bucket(Bucket=bucket.name, ExpectedBucketOwner=ours_id)
    finally:
        theirs.delete_objects(Bucket=sniped, Delete={"Objects": [{"Key": "x"}]})
        theirs.delete_bucket(Bucket=sniped)
        for name in [b["Name"] for b in ours.list_buckets()["Buckets"] if b["Name"].startswith(
                f"longtask-deployment-{ours_id}-{region}-")]:  # fmt: skip
            ours.delete_bucket(Bucket=name)


def test_a_stack_submitted_as_yaml_keeps_its_yaml_and_its_version_is_read(client: LongTaskClient) -> None:
    """GetTemplate (Original) returns the template as submitted, as `sam deploy` submits it: YAML with short
    intrinsics (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplate.html)."""
    from longtask.deployment import ChangeSet, create_change_set, deployed_digest, execute
    from longtask.sources import DIGEST_METADATA

    cloudformation, stack = client.target.client("cloudformation"), f"longtask-it-yaml-{secrets.token_hex(3)}"
    body = (f"Metadata:\n  {DIGEST_METADATA}: v-yaml\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n"
            "    Properties:\n      QueueName: !Sub '${AWS::StackName}-queue'\n")  # fmt: skip
    made = create_change_set(cloudformation, stack, body, {}, None)
    assert isinstance(made, ChangeSet)
    list(execute(cloudformation, stack, made))
    try:
        assert cloudformation.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"] == body
        assert deployed_digest(cloudformation, stack) == "v-yaml"
    finally:
        cloudformation.delete_stack(StackName=stack)
        assert poll_condition(lambda: stack_status(client, stack) is None, timeout=60)
