"""The local engine refuses what AWS refuses: IAM per principal, S3's 403, TLS, IMDS credentials, routes to S3."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient
from longtask.waiting import poll_condition

from .engine_session import SCRIPTS_BUCKET, STACK
from .support import default_image, instances_of, live_instances


def role_arn(client: LongTaskClient, logical_id: str) -> str:
    """The ARN of one of the stack's roles."""
    cloudformation = client.target.client("cloudformation")
    name = cloudformation.describe_stack_resource(StackName=STACK, LogicalResourceId=logical_id)[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    return client.target.client("iam").get_role(RoleName=name)["Role"]["Arn"]


def as_role(client: LongTaskClient, logical_id: str, service: str, endpoint_url: str | None = None) -> Any:
    """A client of `service` acting as the stack's role (its assumed-role credentials, as the engine sees them)."""
    credentials = client.target.client("sts").assume_role(
        RoleArn=role_arn(client, logical_id), RoleSessionName="test"
    )["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )
    return session.client(service, endpoint_url=endpoint_url or client.target.endpoint_url,
                          verify=client.target.ca_bundle)  # fmt: skip


def error_of(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    error, metadata = raised.value.response["Error"], raised.value.response["ResponseMetadata"]
    return error["Code"], metadata["HTTPStatusCode"], error.get("Message", "")


def test_s3_answers_403_for_a_missing_key_unless_the_caller_may_list_it(client: LongTaskClient) -> None:
    missing = {"Bucket": client.stack.bucket, "Key": "runs/never-ran/result.json"}
    instance_s3 = as_role(client, "InstanceRole", "s3")  # may read runs/*, may not list
    assert error_of(instance_s3.get_object, **missing)[:2] == ("AccessDenied", 403)
    assert error_of(instance_s3.head_object, **missing)[:2] == ("403", 403)  # a HEAD's 403 has no body
    outcome_s3 = as_role(client, "OutcomeFunctionRole", "s3")  # s3:ListBucket with s3:prefix runs/*
    assert error_of(outcome_s3.get_object, **missing)[:2] == ("NoSuchKey", 404)


def test_a_denied_call_fails_with_each_services_own_error(client: LongTaskClient) -> None:
    watcher = "WatcherStateMachineRole"  # may only DescribeInstances
    code, status, message = error_of(as_role(client, watcher, "ec2").terminate_instances, InstanceIds=["i-0123456789"])
    assert (code, status) == ("UnauthorizedOperation", 403)
    assert "is not authorized to perform: ec2:TerminateInstances" in message
    s3 = as_role(client, watcher, "s3")
    assert error_of(s3.put_object, Bucket=client.stack.bucket, Key="runs/x/y", Body=b"")[:2] == ("AccessDenied", 403)
    item = {"runId": {"S": "x"}}
    dynamodb = as_role(client, watcher, "dynamodb")
    assert error_of(dynamodb.put_item, TableName=client.stack.table, Item=item)[0] == "AccessDeniedException"
    states = as_role(client, watcher, "stepfunctions")
    code, _, _ = error_of(states.start_execution, stateMachineArn=client.stack.state_machine_arn, input="{}")
    assert code == "AccessDeniedException"


def test_an_operation_the_engine_does_not_model_is_denied_and_says_so(client: LongTaskClient) -> None:
    code, _, message = error_of(as_role(client, "LauncherFunctionRole", "ec2").describe_key_pairs)
    assert code == "UnauthorizedOperation" and "not modelled" in message


def test_the_bucket_refuses_requests_without_tls(client: LongTaskClient) -> None:
    key = "runs/tls-check/result.json"
    client.s3.put_object(Bucket=client.stack.bucket, Key=key, Body=b"{}")
    plain = client.target.endpoint_url.replace("https://", "http://")
    s3 = as_role(client, "OutcomeFunctionRole", "s3", endpoint_url=plain)
    code, status, message = error_of(s3.get_object, Bucket=client.stack.bucket, Key=key)
    assert (code, status) == ("AccessDenied", 403) and "explicit deny" in message
    tls = as_role(client, "OutcomeFunctionRole", "s3")
    assert tls.get_object(Bucket=client.stack.bucket, Key=key)["Body"].read() == b"{}"


def test_the_instance_acts_as_its_profile_role_through_imdsv2(client: LongTaskClient) -> None:
    script = (
        'curl -s -o /dev/null -w "without token: %{http_code}\\n" "$LONGTASK_IMDS_ENDPOINT/latest/meta-data/"\n'
        'aws sts get-caller-identity --query Arn --output text\n'
        'aws s3 ls "s3://$LONGTASK_BUCKET/" >/dev/null 2>&1 || echo "listing the bucket: denied"\n'
    )
    record = client.wait(client.start({"script": script}))
    assert record["status"] == "SUCCEEDED", record
    assert "without token: 401" in record["logTail"]  # HttpTokens=required
    assert ":assumed-role/" in record["logTail"] and "InstanceRole" in record["logTail"]
    assert "listing the bucket: denied" in record["logTail"]


def test_a_run_in_a_subnet_with_no_route_to_s3_launches_nothing(client: LongTaskClient) -> None:
    ec2 = client.target.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    run_id = client.start({"script": "echo hi", "subnetIds": [subnet]})
    record = client.wait(run_id)
    assert record["status"] == "LAUNCH_FAILED"
    assert "no route to S3" in record["reason"] and subnet in record["reason"]
    assert client.execution(run_id)["error"] == "LongTask.LaunchFailed"
    assert live_instances(client, run_id) == []


def launch_raw(client: LongTaskClient, user_data: str, public_ip: bool, run_id: str) -> str:
    """An instance of the stack's profile with this user data, launched directly (no launcher, no preflight)."""
    ec2 = client.target.client("ec2")
    subnet = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]["SubnetId"]
    profile = client.target.client("cloudformation").describe_stack_resource(
        StackName=STACK, LogicalResourceId="InstanceProfile"
    )["StackResourceDetail"]["PhysicalResourceId"]
    iam = client.target.client("iam")
    profile_arn = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Arn"]
    return ec2.run_instances(
        ImageId=default_image(client), InstanceType="t3a.nano", MinCount=1, MaxCount=1, UserData=user_data,
        IamInstanceProfile={"Arn": profile_arn},
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": public_ip}],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "longtask:run-id", "Value": run_id}]}],
    )["Instances"][0]["InstanceId"]  # fmt: skip


def console_of(instance_id: str) -> Path:
    return EnginePaths.default().instances / instance_id / "var" / "log" / "cloud-init-output.log"


def test_an_instance_without_a_route_to_s3_cannot_report(client: LongTaskClient) -> None:
    """The engine's own routing, with the launcher's preflight bypassed: no public IP behind an internet gateway."""
    user_data = "#!/bin/bash\ntimeout 5 aws s3 ls >/dev/null 2>&1; echo \"s3 call ended with $?\"\n"
    instance = launch_raw(client, user_data, public_ip=False, run_id="no-route")
    try:
        assert poll_condition(lambda: "s3 call ended" in _text(console_of(instance)), timeout=60)
        assert "s3 call ended with 124" in _text(console_of(instance))  # it hung until `timeout` ended it
    finally:
        client.target.client("ec2").terminate_instances(InstanceIds=[instance])


def test_what_cloud_final_leaves_running_is_stopped_after_the_network_is_down(client: LongTaskClient) -> None:
    """Without its own systemd unit, a report made on SIGTERM at shutdown never arrives (cloud-final's KillMode)."""
    key = f"runs/cloud-final-{secrets.token_hex(4)}/late-report.txt"
    upload = f'echo late | timeout 5 aws s3 cp - "s3://{client.stack.bucket}/{key}"'
    user_data = f"#!/bin/bash\ntrap '{upload}; echo \"report ended $?\"; exit' TERM\necho ready\nsleep 300 &\nwait\n"
    instance = launch_raw(client, user_data, public_ip=True, run_id="cloud-final")
    assert poll_condition(lambda: "ready" in _text(console_of(instance)), timeout=60)
    client.target.client("ec2").terminate_instances(InstanceIds=[instance])
    assert poll_condition(lambda: "report ended" in _text(console_of(instance)), timeout=60)
    assert "report ended 124" in _text(console_of(instance))  # it hung: the network was already down
    with pytest.raises(ClientError, match=r"NoSuchKey|404"):
        client.s3.head_object(Bucket=client.stack.bucket, Key=key)


def test_a_spot_run_creates_the_spot_service_linked_role_once(client: LongTaskClient) -> None:
    record = client.wait(client.start({"script": "echo on spot", "spot": True}))
    assert (record["status"], record["spot"]) == ("SUCCEEDED", True), record
    roles = client.target.client("iam").list_roles(PathPrefix="/aws-service-role/spot.amazonaws.com/")["Roles"]
    assert [r["RoleName"] for r in roles] == ["AWSServiceRoleForEC2Spot"]


def test_every_decision_is_in_the_log_with_the_statement_that_allowed_it(client: LongTaskClient) -> None:
    decisions = [json.loads(line) for line in EnginePaths.default().iam_decisions.read_text().splitlines()]
    launcher = f"{STACK}-LauncherFunctionRole"  # this stack's: the engine may serve others (`make bench`'s)
    passes = [d for d in decisions if launcher in d["principal"] and d["action"] == "iam:PassRole"]
    allowed = [d for d in passes if d["allowed"]]
    assert allowed and all(d["statement"].endswith("#PassOnlyTheInstanceRole") for d in allowed)
    assert all(d["resource"].split("/")[-1].startswith(f"{STACK}-InstanceRole") for d in allowed)
    # the image is resolved at each launch from its SSM parameter, read as the launcher
    images = [d for d in decisions if launcher in d["principal"] and d["action"] == "ssm:GetParameters"]
    assert images and all(d["statement"].endswith("#ResolveTheImageAtLaunch") for d in images if d["allowed"])
    public = "::parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    assert any(d["resource"].endswith(public) for d in images)


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


@pytest.mark.parametrize(
    ("run_input", "code"),
    [({"imageId": "ami-0123456789abcdef0"}, "InvalidAMIID.NotFound"),
     ({"instanceTypes": ["zz9.nano"]}, "InvalidParameterValue")],
)
def test_ec2_refuses_an_image_or_instance_type_that_does_not_exist(client: LongTaskClient, run_input: dict,
                                                                   code: str) -> None:  # fmt: skip
    run_id = client.start({"script": "echo hi", **run_input})
    record = client.wait(run_id)
    assert record["status"] == "LAUNCH_FAILED" and code in record["reason"], record
    assert live_instances(client, run_id) == []


def test_execution_names_are_validated_as_aws_does(client: LongTaskClient) -> None:
    states = client.stepfunctions
    for bad in ("x" * 81, "has space", "a/b", "semi;colon"):
        code, _, _ = error_of(states.start_execution, stateMachineArn=client.stack.state_machine_arn, name=bad,
                              input="{}")  # fmt: skip
        assert code == "InvalidName", bad
    name = f"strict-names-{secrets.token_hex(4)}" + "n" * 52  # 73 characters: its watcher children must fit in 80
    run_input = {"script": "sleep 2"}
    first = client.start(run_input, run_id=name)
    assert client.start(run_input, run_id=name) == first  # the same name and input while it runs: idempotent
    with pytest.raises(ClientError, match="ExecutionAlreadyExists"):
        client.start({"script": "sleep 3"}, run_id=name)
    assert client.wait(name)["status"] == "SUCCEEDED"


def test_scripts_outside_the_artifact_bucket_are_read_where_script_read_arns_allow(client: LongTaskClient) -> None:
    s3 = client.s3
    s3.create_bucket(Bucket=SCRIPTS_BUCKET)
    s3.put_object(Bucket=SCRIPTS_BUCKET, Key="jobs/hello.sh", Body=b"echo hello from elsewhere\n")
    s3.put_object(Bucket=SCRIPTS_BUCKET, Key="private/hello.sh", Body=b"echo never\n")
    record = client.wait(client.start({"scriptS3Uri": f"s3://{SCRIPTS_BUCKET}/jobs/hello.sh"}))
    assert record["status"] == "SUCCEEDED" and "hello from elsewhere" in record["logTail"], record
    refused = client.wait(client.start({"scriptS3Uri": f"s3://{SCRIPTS_BUCKET}/private/hello.sh"}))
    assert refused["status"] == "INVALID_INPUT" and "cannot read" in refused["reason"], refused


def test_a_script_in_the_stacks_bucket_the_instances_cannot_read_launches_nothing(client: LongTaskClient) -> None:
    """Outside runs/ and ScriptUploadPrefix the instance role may not read the bucket: neither may the launcher."""
    client.s3.put_object(Bucket=client.stack.bucket, Key="elsewhere/job.sh", Body=b"echo never\n")
    run_id = client.start({"scriptS3Uri": f"s3://{client.stack.bucket}/elsewhere/job.sh"})
    record = client.wait(run_id)
    assert record["status"] == "INVALID_INPUT", record
    assert "the instances may read only runs/* and scripts/*" in record["reason"], record
    assert instances_of(client, run_id) == []


def test_ec2_refuses_a_type_whose_architecture_the_image_lacks(client: LongTaskClient) -> None:
    ec2 = client.target.client("ec2")
    code, _, message = error_of(ec2.run_instances, ImageId=default_image(client), InstanceType="t4g.nano",
                                MinCount=1, MaxCount=1)  # fmt: skip
    assert code == "InvalidParameterValue"
    assert message.startswith("The architecture 'arm64' of the specified instance type does not match the "
                              "architecture 'x86_64' of the specified AMI.")  # fmt: skip
    refused = client.start({"script": "echo hi", "instanceTypes": ["t4g.nano"]})
    record = client.wait(refused)
    assert record["status"] == "INVALID_INPUT" and "no type fits the image" in record["reason"], record
    assert instances_of(client, refused) == []
    mixed = client.wait(client.start({"script": "echo hi", "instanceTypes": ["t4g.nano", "t3.nano"]}))
    assert (mixed["status"], mixed["instanceType"]) == ("SUCCEEDED", "t3.nano"), mixed


def test_an_instance_in_a_subnet_that_maps_public_ips_has_one(client: LongTaskClient) -> None:
    """MapPublicIpOnLaunch gives the instance a public IPv4 address unless the request says otherwise
    (https://docs.aws.amazon.com/vpc/latest/userguide/modify-subnets.html); a security group of another VPC is
    refused ("belong to different networks")."""
    ec2 = client.target.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    own = ec2.create_security_group(GroupName=f"public-{secrets.token_hex(3)}", Description="x", VpcId=vpc)
    other = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    other_vpc = next(g["GroupId"] for g in other if g["VpcId"] != vpc)
    launch = {"ImageId": default_image(client), "InstanceType": "t3.nano", "MinCount": 1, "MaxCount": 1}
    code, _, message = error_of(ec2.run_instances, **launch, NetworkInterfaces=[
        {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [other_vpc]}])  # fmt: skip
    assert code == "InvalidParameter" and "belong to different networks" in message
    answers = {}
    for asked in (None, False):
        interface = {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [own["GroupId"]]}
        if asked is not None:
            interface["AssociatePublicIpAddress"] = asked
        instance_id = ec2.run_instances(**launch, NetworkInterfaces=[interface])["Instances"][0]["InstanceId"]
        time.sleep(1.1)  # EC2 is eventually consistent: an instance just launched is not found by id at once
        described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        answers[asked] = described.get("PublicIpAddress")
        ec2.terminate_instances(InstanceIds=[instance_id])
    assert answers[None] and answers[False] is None, answers


def test_step_functions_refuses_an_input_over_256_kib(client: LongTaskClient) -> None:
    head, tail = '{"script": "echo hi", "env": {"PAD": "', '"}}'
    just_in = head + "x" * (256 * 1024 - len(head) - len(tail)) + tail
    assert len(just_in.encode()) == 256 * 1024
    over = json.dumps({"script": "echo hi", "env": {"PAD": "x" * 300_000}})
    code, _, message = error_of(client.stepfunctions.start_execution, stateMachineArn=client.stack.state_machine_arn,
                                name=f"too-big-{secrets.token_hex(4)}", input=over)  # fmt: skip
    assert code == "ValidationException" and "less than or equal to 262144" in message
    accepted = client.stepfunctions.start_execution(stateMachineArn=client.stack.state_machine_arn,
                                                    name=f"just-in-{secrets.token_hex(4)}", input=just_in)  # fmt: skip
    record = client.wait(accepted["executionArn"].rsplit(":", 1)[1])
    assert record["status"] == "INVALID_INPUT", record  # taken, then refused by the launcher: Linux's limit on one
    assert "MAX_ARG_STRLEN" in record["reason"]  # variable, which no script could run with


def test_expect_100_continue_is_answered_100_continue(client: LongTaskClient) -> None:
    """As S3 answers (RFC 9110, 15.2.1), read off the socket before any body is sent: botocore 1.35 closes the
    connection of a PutObject whose interim response has no reason phrase."""
    import socket
    import ssl
    from urllib.parse import urlsplit

    endpoint = urlsplit(client.target.endpoint_url)
    context = ssl.create_default_context(cafile=client.target.ca_bundle)
    with socket.create_connection((endpoint.hostname, endpoint.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=endpoint.hostname) as tls:  # fmt: skip
        tls.sendall(f"PUT /{client.stack.bucket}/runs/expect-check/x HTTP/1.1\r\nHost: {endpoint.netloc}\r\n"
                    "Content-Length: 2\r\nExpect: 100-continue\r\n\r\n".encode())  # fmt: skip
        first = b""
        while not first.endswith(b"\r\n"):
            first += tls.recv(1)
    assert first == b"HTTP/1.1 100 Continue\r\n"


def test_a_state_output_over_256_kib_fails_the_execution(client: LongTaskClient) -> None:
    """States.DataLimitExceeded (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html): each
    state's output, like the execution's input, is at most 256 KiB (LocalStack's own check)."""
    big = {"StartAt": "Grow", "States": {"Grow": {"Type": "Pass", "Result": {"pad": "x" * 300_000}, "End": True}}}
    machine = client.stepfunctions.create_state_machine(
        name=f"longtask-it-big-{secrets.token_hex(4)}", definition=json.dumps(big),
        roleArn=role_arn(client, "WatcherStateMachineRole"))["stateMachineArn"]  # fmt: skip
    arn = client.stepfunctions.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    assert poll_condition(lambda: client.stepfunctions.describe_execution(executionArn=arn)["status"] != "RUNNING",
                          timeout=20)  # fmt: skip
    ended = client.stepfunctions.describe_execution(executionArn=arn)
    assert (ended["status"], ended.get("error")) == ("FAILED", "States.DataLimitExceeded"), ended


@pytest.mark.slow(seconds=150)
def test_a_disabled_schedule_rule_stops_firing(client: LongTaskClient) -> None:
    """As on AWS: a schedule rule fires its targets until it is disabled, then never (the engine's patch)."""
    events, sqs = client.target.client("events"), client.target.client("sqs")
    name = f"it-schedule-{secrets.token_hex(3)}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(Name=name, ScheduleExpression="rate(1 minute)")["RuleArn"]
    allow = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
             "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}  # fmt: skip
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({"Version": "2012-10-17",
                                                                                   "Statement": [allow]})})
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    try:
        fired = poll_condition(lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5).get("Messages"), 80)
        assert fired  # within a minute
        events.disable_rule(Name=name)
        sqs.purge_queue(QueueUrl=queue_url)
        time.sleep(65)  # a minute boundary passes
        assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages") is None
    finally:
        events.remove_targets(Rule=name, Ids=["queue"])
        events.delete_rule(Name=name)
        sqs.delete_queue(QueueUrl=queue_url)
