"""RunInstances with fallback across instance types and subnets and retry on throttling; when every option is
refused for quota, capacity or throttling, NoCapacity says why (the run then waits in its queue)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from common.tags import EXECUTION_ARN
from common.vcpu_quotas import group_name

from .errors import InvalidInput, LaunchFailed

NEXT_OPTION = frozenset({"InsufficientInstanceCapacity", "Unsupported", "InstanceTypeNotSupported"})
# EC2's and Service Quotas' words for a request over the account's rate
THROTTLED = frozenset({"RequestLimitExceeded", "Throttling", "ThrottlingException", "TooManyRequestsException"})
QUOTA = frozenset({"InstanceLimitExceeded", "VcpuLimitExceeded", "MaxSpotInstanceCountExceeded"})
# Server-side trouble: let the handler fail so the workflow retries it (the ClientToken keeps it to one instance)
TRANSIENT = frozenset({"InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "RequestTimeout"})
# Throttling is retried once in the function, then the run waits for a launch time it reserves (queueing.py): a
# Lambda environment that slept through EC2's backoff would hold Lambda concurrency the other launches need
THROTTLE_ATTEMPTS = 2
PROFILE_ATTEMPTS = 5  # an instance profile EC2 does not see yet: IAM propagates within seconds
BASE_DELAY_SECONDS = 1.0


class NoCapacity(Exception):
    """Every option was refused for quota, capacity or throttling: the run may wait and try again. `throttled`:
    only throttling refused them (EC2's buckets refill within seconds)."""

    def __init__(self, reason: str, throttled: bool = False) -> None:
        super().__init__(reason)
        self.throttled = throttled


@dataclass(frozen=True)
class LaunchSpec:
    """Everything RunInstances needs apart from the instance type and the subnet."""

    client_token_seed: str
    image_id: str
    user_data: bytes  # packed (userdata.py)
    instance_profile_arn: str
    security_group_ids: list[str]
    tags: dict[str, str]
    associate_public_ip_address: bool | None = None  # None: the subnet decides (MapPublicIpOnLaunch)
    hop_limit: int = 1  # IMDSv2's PUT response hop limit: 2 lets containers on the instance reach IMDS


@dataclass(frozen=True)
class Option:
    """One way to launch: an instance type in a subnet, on Spot or on demand."""

    instance_type: str
    subnet_id: str | None = None
    spot: bool = False

    def __str__(self) -> str:
        market = "spot" if self.spot else "on-demand"
        return f"{self.instance_type} ({market}) in {self.subnet_id or 'the default subnet'}"


@dataclass(frozen=True)
class Launched:
    instance_id: str
    instance_type: str
    subnet_id: str
    spot: bool = False
    attempts: list[str] = field(default_factory=list)


def client_token(seed: str, option: Option) -> str:
    """An idempotency token per execution attempt and option: a retried launch returns the same instance."""
    return hashlib.sha256(f"{seed}|{option.instance_type}|{option.subnet_id or ''}|{option.spot}".encode()).hexdigest()


def run_instances_arguments(spec: LaunchSpec, option: Option) -> dict[str, Any]:
    """The RunInstances request for one option."""
    tags = [{"Key": key, "Value": value} for key, value in spec.tags.items()]
    arguments: dict[str, Any] = {
        "ClientToken": client_token(spec.client_token_seed, option),
        "ImageId": spec.image_id,
        "InstanceType": option.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "UserData": spec.user_data,
        "InstanceInitiatedShutdownBehavior": "terminate",
        "MetadataOptions": {
            "HttpTokens": "required",
            "HttpEndpoint": "enabled",
            "HttpPutResponseHopLimit": spec.hop_limit,
        },
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": tags},
            {"ResourceType": "volume", "Tags": tags},
        ],
    }
    if spec.instance_profile_arn:
        arguments["IamInstanceProfile"] = {"Arn": spec.instance_profile_arn}
    if option.spot:
        arguments["InstanceMarketOptions"] = {
            "MarketType": "spot",
            "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
        }
    interface: dict[str, Any] = {"DeviceIndex": 0}
    if spec.associate_public_ip_address is not None:  # when given, it overrides the subnet's MapPublicIpOnLaunch
        interface["AssociatePublicIpAddress"] = spec.associate_public_ip_address
    if option.subnet_id:
        interface["SubnetId"] = option.subnet_id
    if spec.security_group_ids:
        interface["Groups"] = spec.security_group_ids
    arguments["NetworkInterfaces"] = [interface]
    return arguments


def launch(
    ec2: Any,
    spec: LaunchSpec,
    options: list[Option],
    sleep: Callable[[float], None] = time.sleep,
) -> Launched:
    """Launch one instance, trying the options in order. A type whose architecture the image lacks is skipped (EC2
    refuses it, "The architecture ... does not match"): a run may list types of both architectures, for images
    given per run; InvalidInput when no listed type fits the image."""
    attempts: list[str] = []
    refusals: list[tuple[Option, str]] = []
    wrong_architecture: dict[str, str] = {}  # instance type -> EC2's words
    for option in options:
        if option.instance_type in wrong_architecture:
            continue
        arguments = run_instances_arguments(spec, option)
        try:
            instance = _run_with_backoff(ec2, arguments, sleep)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in TRANSIENT:
                raise
            if _wrong_architecture(error):
                wrong_architecture[option.instance_type] = error.response["Error"].get("Message", "")
                attempts.append(f"{option}: {code} (architecture)")
                continue
            if code == "IdempotentParameterMismatch":  # an earlier attempt's request under this token launched
                earlier = _launched_with_token(ec2, arguments["ClientToken"])
                if earlier is not None:
                    return Launched(earlier["InstanceId"], option.instance_type, earlier.get("SubnetId", ""),
                                    option.spot, attempts)  # fmt: skip
            attempts.append(f"{option}: {code}")
            if code in THROTTLED:  # the account's bucket, whatever the option: the next would be refused as well
                refusals.append((option, code))
                break
            if option.spot or code in NEXT_OPTION | QUOTA:  # any refusal of Spot falls back to on demand
                refusals.append((option, code))
                continue
            raise LaunchFailed(_cause(code, error, attempts)) from None
        subnet_id = instance.get("SubnetId", option.subnet_id or "")
        return Launched(instance["InstanceId"], option.instance_type, subnet_id, option.spot, attempts)
    if wrong_architecture and set(wrong_architecture) == {option.instance_type for option in options}:
        raise InvalidInput(f"instanceTypes: no type fits the image {spec.image_id} "
                           f"({'; '.join(sorted(set(wrong_architecture.values())))}); name types of the image's "
                           "architecture, or an image of theirs")  # fmt: skip
    # throttled: the options after the throttled one were never tried
    raise NoCapacity(_refused(refusals), throttled=any(c in THROTTLED for _, c in refusals))


def launch_options(instance_types: list[str], subnet_ids: list[str], spot: bool) -> list[Option]:
    """Each type in turn: on Spot in each subnet (if asked), then on demand in each subnet."""
    markets = [True, False] if spot else [False]
    return [
        Option(instance_type, subnet_id, market)
        for instance_type in instance_types
        for market in markets
        for subnet_id in subnet_ids or [None]
    ]


def _launched_with_token(ec2: Any, token: str) -> dict[str, Any] | None:
    reservations = ec2.describe_instances(Filters=[{"Name": "client-token", "Values": [token]}])["Reservations"]
    return next((i for r in reservations for i in r["Instances"]), None)


def find_launched(ec2: Any, execution_arn: str) -> Launched | None:
    """The live instance an earlier attempt of this launch already started, if any."""
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": f"tag:{EXECUTION_ARN}", "Values": [execution_arn]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    for reservation in reservations:
        for instance in reservation["Instances"]:
            spot = instance.get("InstanceLifecycle") == "spot"
            return Launched(instance["InstanceId"], instance["InstanceType"], instance.get("SubnetId", ""), spot)
    return None


def _run_with_backoff(ec2: Any, arguments: dict[str, Any], sleep: Callable[[float], None]) -> dict:
    """RunInstances, retried with exponential backoff while EC2 throttles or does not see the instance profile yet."""
    attempt = 0
    while True:
        try:
            return ec2.run_instances(**arguments)["Instances"][0]
        except ClientError as error:
            attempt += 1
            tries = THROTTLE_ATTEMPTS if throttled(error) else PROFILE_ATTEMPTS
            if not _retryable(error) or attempt >= tries:
                raise
            sleep(BASE_DELAY_SECONDS * 2 ** (attempt - 1))


def throttled(error: ClientError) -> bool:
    """The request was over the account's rate for its action."""
    return error.response["Error"]["Code"] in THROTTLED


def _retryable(error: ClientError) -> bool:
    """Throttling, and an instance profile not yet propagated to EC2 (IAM is eventually consistent: "Invalid
    IAM Instance Profile" right after a deploy creates it)."""
    code, message = error.response["Error"]["Code"], error.response["Error"].get("Message", "")
    return code in THROTTLED or (code == "InvalidParameterValue" and "Invalid IAM Instance Profile" in message)


def _wrong_architecture(error: ClientError) -> bool:
    """EC2's refusal of a type whose architecture the image lacks (InvalidParameterValue, "The architecture 'arm64'
    of the specified instance type does not match the architecture 'x86_64' of the specified AMI")."""
    message = error.response["Error"].get("Message", "")
    return error.response["Error"]["Code"] == "InvalidParameterValue" and "does not match the architecture" in message


def _cause(code: str, error: ClientError, attempts: list[str]) -> str:
    message = error.response["Error"].get("Message", "")
    return f"RunInstances failed ({code}: {message}); tried {'; '.join(attempts)}"


def _refused(refusals: list[tuple[Option, str]]) -> str:
    """Why no option launched, in words: "no capacity for c7i.large in 3 subnets; VcpuLimitExceeded for m7i.large"."""
    by_reason: dict[tuple[str, str, bool], set[str | None]] = {}
    for option, code in refusals:
        spot = option.spot and code in QUOTA  # Spot and on demand count against quotas of their own
        by_reason.setdefault((code, option.instance_type, spot), set()).add(option.subnet_id)
    parts = []
    for (code, instance_type, spot), subnets in by_reason.items():
        where = f" in {len(subnets)} subnets" if len(subnets) > 1 else ""
        if code == "InsufficientInstanceCapacity":
            parts.append(f"no capacity for {instance_type}{where}")
        elif code in THROTTLED:
            parts.append(f"EC2 throttled RunInstances for {instance_type} ({code}, {THROTTLE_ATTEMPTS} tries)")
        elif code in QUOTA:
            parts.append(f"vCPU quota for {group_name(instance_type, spot)}: EC2 refused {instance_type} ({code})")
        else:
            parts.append(f"{code} for {instance_type}{where}")
    return "; ".join(dict.fromkeys(parts)) or "no option to launch"
