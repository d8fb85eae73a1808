"""RunInstances arguments, fallback across options, throttling backoff and quota errors."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from launcher.errors import LaunchFailed
from launcher.instances import (
    LaunchSpec,
    NoCapacity,
    Option,
    client_token,
    launch,
    launch_options,
    run_instances_arguments,
)

SPEC = LaunchSpec(
    client_token_seed="arn:aws:states:us-east-1:123456789012:execution:sm:run-1",
    image_id="ami-12345678",
    user_data="#!/bin/bash\necho hi\n",
    instance_profile_arn="arn:aws:iam::123456789012:instance-profile/longtask",
    security_group_ids=["sg-12345678"],
    tags={"longtask:run-id": "run-1", "team": "builds"},
)


def launched(instance_id: str, subnet_id: str = "subnet-aaaaaaaa") -> dict[str, Any]:
    return {"Instances": [{"InstanceId": instance_id, "SubnetId": subnet_id}]}


@pytest.fixture
def ec2() -> Any:
    client = boto3.client("ec2", region_name="us-east-1")
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def test_instance_terminates_itself_on_shutdown() -> None:
    assert run_instances_arguments(SPEC, Option("t3a.nano"))["InstanceInitiatedShutdownBehavior"] == "terminate"


def test_imdsv2_is_required() -> None:
    assert run_instances_arguments(SPEC, Option("t3a.nano"))["MetadataOptions"]["HttpTokens"] == "required"


def test_instance_and_volumes_carry_the_tags() -> None:
    specs = run_instances_arguments(SPEC, Option("t3a.nano"))["TagSpecifications"]
    assert {s["ResourceType"] for s in specs} == {"instance", "volume"}
    for spec in specs:
        assert {"Key": "longtask:run-id", "Value": "run-1"} in spec["Tags"]
        assert {"Key": "team", "Value": "builds"} in spec["Tags"]


def test_the_subnet_decides_the_public_ip_unless_asked() -> None:
    # AssociatePublicIpAddress, when sent, overrides the subnet's MapPublicIpOnLaunch (even as false)
    interface = run_instances_arguments(SPEC, Option("t3a.nano", "subnet-aaaaaaaa"))["NetworkInterfaces"][0]
    assert interface == {"DeviceIndex": 0, "SubnetId": "subnet-aaaaaaaa", "Groups": ["sg-12345678"]}
    for asked in (True, False):
        spec = LaunchSpec(**{**SPEC.__dict__, "associate_public_ip_address": asked})
        interface = run_instances_arguments(spec, Option("t3a.nano"))["NetworkInterfaces"][0]
        assert interface["AssociatePublicIpAddress"] is asked


def test_instance_profile_is_passed() -> None:
    assert run_instances_arguments(SPEC, Option("t3a.nano"))["IamInstanceProfile"] == {
        "Arn": "arn:aws:iam::123456789012:instance-profile/longtask"
    }


def test_client_token_is_stable_per_execution_and_option() -> None:
    token = run_instances_arguments(SPEC, Option("t3a.nano"))["ClientToken"]
    assert token == run_instances_arguments(SPEC, Option("t3a.nano"))["ClientToken"]
    assert len(token) <= 64
    assert token != client_token(SPEC.client_token_seed, Option("t3.nano"))
    assert token != client_token(SPEC.client_token_seed, Option("t3a.nano", spot=True))
    assert token != client_token(SPEC.client_token_seed + "-2", Option("t3a.nano"))


def test_capacity_error_moves_to_the_next_type(ec2: Any) -> None:
    ec2.stubber.add_client_error("run_instances", "InsufficientInstanceCapacity", "no t3a.nano")
    ec2.stubber.add_response("run_instances", launched("i-0000000000000002"), _any_arguments("t3.nano"))
    result = launch(ec2, SPEC, launch_options(["t3a.nano", "t3.nano"], [], spot=False), sleep=lambda _: None)
    assert (result.instance_id, result.instance_type) == ("i-0000000000000002", "t3.nano")
    assert result.attempts == ["t3a.nano (on-demand) in the default subnet: InsufficientInstanceCapacity"]


def test_unsupported_moves_to_the_next_subnet_before_the_next_type(ec2: Any) -> None:
    ec2.stubber.add_client_error("run_instances", "Unsupported", "not in this zone")
    ec2.stubber.add_response("run_instances", launched("i-0000000000000003", "subnet-bbbbbbbb"))
    result = launch(
        ec2,
        SPEC,
        launch_options(["t3a.nano", "t3.nano"], ["subnet-aaaaaaaa", "subnet-bbbbbbbb"], spot=False),
        sleep=lambda _: None,
    )
    assert (result.instance_type, result.subnet_id) == ("t3a.nano", "subnet-bbbbbbbb")


def test_throttling_is_retried_once_in_the_function(ec2: Any) -> None:
    slept: list[float] = []
    ec2.stubber.add_client_error("run_instances", "RequestLimitExceeded", "slow down")
    ec2.stubber.add_response("run_instances", launched("i-0000000000000004"))
    result = launch(ec2, SPEC, launch_options(["t3a.nano"], [], spot=False), sleep=slept.append)
    assert result.instance_id == "i-0000000000000004"
    assert slept == [1.0]


def test_throttling_stops_at_the_first_option_the_run_then_waits(ec2: Any) -> None:
    """The bucket is the account's: the next option would meet the same refusal, so it is not asked."""
    slept: list[float] = []
    for _ in range(2):
        ec2.stubber.add_client_error("run_instances", "RequestLimitExceeded", "slow down")
    refusal = r"^EC2 throttled RunInstances for t3a.nano \(RequestLimitExceeded, 2 tries\)$"
    with pytest.raises(NoCapacity, match=refusal) as refused:
        launch(ec2, SPEC, launch_options(["t3a.nano", "t3.nano"], [], spot=False), sleep=slept.append)
    assert refused.value.throttled and slept == [1.0]
    ec2.stubber.assert_no_pending_responses()


def test_an_instance_profile_not_yet_seen_is_retried_longer(ec2: Any) -> None:
    slept: list[float] = []
    for _ in range(3):
        ec2.stubber.add_client_error("run_instances", "InvalidParameterValue", "Invalid IAM Instance Profile name")
    ec2.stubber.add_response("run_instances", launched("i-0000000000000005"))
    assert launch(ec2, SPEC, launch_options(["t3a.nano"], [], spot=False), sleep=slept.append).instance_id
    assert slept == [1.0, 2.0, 4.0]


@pytest.mark.parametrize("code", ["InstanceLimitExceeded", "VcpuLimitExceeded"])
def test_a_quota_refusal_tries_the_next_type_then_waits(ec2: Any, code: str) -> None:
    """Another type may count against another family's quota; when every option is refused, the run waits."""
    for _ in range(4):
        ec2.stubber.add_client_error("run_instances", code, "quota")
    options = launch_options(["t3a.nano", "t3.nano"], ["subnet-aaaaaaaa", "subnet-bbbbbbbb"], spot=False)
    refused = rf"^vCPU quota for Standard on-demand: EC2 refused t3a.nano \({code}\); .* EC2 refused t3.nano"
    with pytest.raises(NoCapacity, match=refused):
        launch(ec2, SPEC, options, sleep=lambda _: None)


def test_exhausted_capacity_says_where(ec2: Any) -> None:
    for _ in range(4):
        ec2.stubber.add_client_error("run_instances", "InsufficientInstanceCapacity", "none")
    options = launch_options(["t3a.nano", "t3.nano"], ["subnet-aaaaaaaa", "subnet-bbbbbbbb"], spot=False)
    refused = r"^no capacity for t3a.nano in 2 subnets; no capacity for t3.nano in 2 subnets$"
    with pytest.raises(NoCapacity, match=refused):
        launch(ec2, SPEC, options, sleep=lambda _: None)


def test_other_errors_fail_with_the_code(ec2: Any) -> None:
    ec2.stubber.add_client_error("run_instances", "InvalidAMIID.NotFound", "no such image")
    with pytest.raises(LaunchFailed, match=r"RunInstances failed \(InvalidAMIID.NotFound: no such image\)"):
        launch(ec2, SPEC, launch_options(["t3a.nano", "t3.nano"], [], spot=False), sleep=lambda _: None)


def _any_arguments(instance_type: str) -> dict[str, Any]:
    arguments = run_instances_arguments(SPEC, Option(instance_type))
    return {name: ANY for name in arguments} | {"InstanceType": instance_type}


def test_spot_is_asked_for_with_one_time_requests() -> None:
    arguments = run_instances_arguments(SPEC, Option("t3a.nano", spot=True))
    assert arguments["InstanceMarketOptions"] == {
        "MarketType": "spot",
        "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
    }
    assert "InstanceMarketOptions" not in run_instances_arguments(SPEC, Option("t3a.nano"))


def test_spot_falls_back_to_on_demand_of_the_same_type_first() -> None:
    options = launch_options(["t3a.nano", "t3.nano"], ["subnet-aaaaaaaa"], spot=True)
    assert [(o.instance_type, o.spot) for o in options] == [
        ("t3a.nano", True), ("t3a.nano", False), ("t3.nano", True), ("t3.nano", False),
    ]  # fmt: skip


@pytest.mark.parametrize("code", [
    "InsufficientInstanceCapacity", "SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded", "VcpuLimitExceeded",
    "AuthFailure.ServiceLinkedRoleCreationNotPermitted", "UnauthorizedOperation",
])  # fmt: skip
def test_any_refusal_of_spot_falls_back_to_on_demand(ec2: Any, code: str) -> None:
    ec2.stubber.add_client_error("run_instances", code, "no spot")
    ec2.stubber.add_response("run_instances", launched("i-0000000000000005"))
    result = launch(ec2, SPEC, launch_options(["t3a.nano"], [], spot=True), sleep=lambda _: None)
    assert (result.instance_type, result.spot) == ("t3a.nano", False)
    assert result.attempts == [f"t3a.nano (spot) in the default subnet: {code}"]


def test_server_errors_are_left_to_the_workflow_to_retry(ec2: Any) -> None:
    from botocore.exceptions import ClientError

    ec2.stubber.add_client_error("run_instances", "InternalError", "oops", http_status_code=500)
    with pytest.raises(ClientError, match="InternalError"):
        launch(ec2, SPEC, launch_options(["t3a.nano", "t3.nano"], [], spot=False), sleep=lambda _: None)


def test_an_instance_profile_not_yet_visible_to_ec2_is_retried(ec2: Any) -> None:
    message = ("Value (arn:aws:iam::123456789012:instance-profile/longtask) for parameter iamInstanceProfile.arn is "
               "invalid. Invalid IAM Instance Profile ARN")  # fmt: skip
    ec2.stubber.add_client_error("run_instances", "InvalidParameterValue", message)
    ec2.stubber.add_response("run_instances", launched("i-0000000000000009"))
    slept: list[float] = []
    assert launch(ec2, SPEC, launch_options(["t3a.nano"], [], spot=False), sleep=slept.append).instance_id == (
        "i-0000000000000009"
    )
    assert slept == [1.0]


def test_the_hop_limit_is_the_runs() -> None:
    spec = LaunchSpec(**{**SPEC.__dict__, "hop_limit": 2})  # containers on the instance need 2
    assert run_instances_arguments(spec, Option("t3a.nano"))["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert run_instances_arguments(SPEC, Option("t3a.nano"))["MetadataOptions"]["HttpPutResponseHopLimit"] == 1


def test_a_changed_request_under_the_same_token_finds_the_instance_it_launched(ec2: Any) -> None:
    ec2.stubber.add_client_error("run_instances", "IdempotentParameterMismatch", "changed")
    token = client_token(SPEC.client_token_seed, Option("t3a.nano"))
    ec2.stubber.add_response(
        "describe_instances",
        {"Reservations": [{"Instances": [{"InstanceId": "i-0000000000000011", "SubnetId": "subnet-aaaaaaaa"}]}]},
        {"Filters": [{"Name": "client-token", "Values": [token]}]},
    )
    result = launch(ec2, SPEC, launch_options(["t3a.nano"], [], spot=False), sleep=lambda _: None)
    assert (result.instance_id, result.subnet_id) == ("i-0000000000000011", "subnet-aaaaaaaa")


ARM_ON_X86 = (
    "The architecture 'arm64' of the specified instance type does not match the architecture 'x86_64' of "
    "the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again."
)


def test_a_type_the_image_cannot_run_is_skipped_in_every_subnet(ec2: Any) -> None:
    ec2.stubber.add_client_error("run_instances", "InvalidParameterValue", ARM_ON_X86)
    ec2.stubber.add_response("run_instances", launched("i-0000000000000004"), _any_arguments("t3.nano"))
    options = launch_options(["t4g.nano", "t3.nano"], ["subnet-aaaaaaaa", "subnet-bbbbbbbb"], spot=False)
    result = launch(ec2, SPEC, options, sleep=lambda _: None)
    assert (result.instance_id, result.instance_type) == ("i-0000000000000004", "t3.nano")
    assert result.attempts == ["t4g.nano (on-demand) in subnet-aaaaaaaa: InvalidParameterValue (architecture)"]


def test_no_type_of_the_images_architecture_is_invalid_input(ec2: Any) -> None:
    from launcher.errors import InvalidInput

    ec2.stubber.add_client_error("run_instances", "InvalidParameterValue", ARM_ON_X86)
    with pytest.raises(InvalidInput, match=r"instanceTypes: no type fits the image ami-12345678 \(The architecture"):
        launch(ec2, SPEC, launch_options(["t4g.nano"], [], spot=True), sleep=lambda _: None)
