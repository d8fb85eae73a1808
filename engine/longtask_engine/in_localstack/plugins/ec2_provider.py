"""The local engine's EC2: LocalStack's provider plus what the application relies on from AWS.

- RunInstances honours ClientToken: a repeated request returns the instances of the first one; the same token
  with other parameters is IdempotentParameterMismatch (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html).
- TerminateInstances can say why an instance ended (header `x-longtask-state-reason`): the instance
  agent marks an instance's own shutdown `Client.InstanceInitiatedShutdown`, as AWS does, and tests
  can end one as `Server.SpotInstanceTermination`.
- An instance profile created moments ago is refused ("Invalid IAM Instance Profile") for a fixed, settable
  time (LONGTASK_PROFILE_PROPAGATION_SECONDS, default 2): IAM is eventually consistent
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
- An image or an instance type that does not exist is refused (InvalidAMIID.NotFound, InvalidParameterValue), and
  so is a type whose architecture the image lacks (InvalidParameterValue, in EC2's words; "Amazon EC2 instance
  type and AMI architecture", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-launch-issues.html),
  and a security group of another VPC than the subnet's (InvalidParameter, "belong to different networks":
  https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html, a group is for one VPC).
- An ImageId of `resolve:ssm:<parameter>` launches the image the parameter names at that moment
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/finding-an-ami-parameter-store.html).
- RunInstances enforces the account's vCPU quotas (limits.py) per family, on demand and Spot.
- DescribeSpotPriceHistory answers with the engine's Spot prices (data/prices.json) instead of moto's $0.00001.
- Every state change puts an "EC2 Instance State-change Notification" on the default bus (ec2_state_events.py).
- A launch or a termination nudges the instance agent (agent_nudge.py): the machines boot or shut down at once
  (not the agent's own terminate of a machine that powered itself off: it is off already).
- An instance stays `shutting-down` SHUTTING_DOWN_SECONDS, or as long as the fault plan's "ShuttingDown" rule of
  its run says ({"operation": "ShuttingDown", "seconds": 60}): EC2 documents no bound on the state
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html).
- The test-only fault plan (faults.py) injects AWS errors at this boundary.
Selected with PROVIDER_OVERRIDE_EC2=longtask; found through the entry point `localstack.aws.provider`.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

from localstack.aws.api import CommonServiceException, RequestContext, handler
from localstack.aws.connect import connect_to
from localstack.services.ec2.provider import Ec2Provider, get_moto_backend
from localstack.services.moto import call_moto, call_moto_with_request
from localstack.services.plugins import Service, aws_provider

from longtask.common.state_reasons import OWN_SHUTDOWN, SPOT_RECLAIMED
from longtask.common.vcpu_quotas import quota_code
from longtask_engine.agent_nudge import nudge
from longtask_engine.in_localstack import limits, prices
from longtask_engine.in_localstack.iam.enforcement import MotoWorld
from longtask_engine.in_localstack.iam.operations import RESOLVE_SSM
from longtask_engine.in_localstack.plugins import ec2_state_events, faults
from longtask_engine.paths import POWERED_OFF, EnginePaths

STATE_REASON_HEADER = "x-longtask-state-reason"
PROFILE_PROPAGATION_SECONDS = float(os.environ.get("LONGTASK_PROFILE_PROPAGATION_SECONDS", "2"))
SHUTTING_DOWN_SECONDS = float(os.environ.get("LONGTASK_SHUTTING_DOWN_SECONDS", "2"))
OS_SHUTDOWN_LIMIT_SECONDS = 60  # then EC2 powers a stuck OS off (the agent's own SIGKILL grace is 10 s)
DESCRIBE_DELAY = float(os.environ.get("LONGTASK_DESCRIBE_DELAY_SECONDS", "1"))
# StateReason messages as EC2 writes them: the code, then what happened (moto's own terminate writes
# "Client.UserInitiatedShutdown: User initiated shutdown"; the codes:
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StateReason.html)
STATE_REASON_MESSAGES = {
    OWN_SHUTDOWN: f"{OWN_SHUTDOWN}: Instance initiated shutdown",
    SPOT_RECLAIMED: f"{SPOT_RECLAIMED}: Spot instance termination",
}


class LocalEc2Provider(Ec2Provider):
    def __init__(self) -> None:
        super().__init__()
        self._instances_by_token: dict[str, tuple[str, list[str]]] = {}  # token -> (request digest, instances)
        self._lock = threading.Lock()
        # moto makes an instance (tagged) and only then associates its instance profile: a DescribeInstances in
        # between saw a tagged instance with no profile, and the agent booted it with no role (its AWS CLI found
        # no credentials). On EC2 the profile is part of the launch, its role's credentials in IMDS from the start
        # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html, IamInstanceProfile;
        # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html), so moto's
        # RunInstances and DescribeInstances take turns.
        self._moto_instances = threading.Lock()
        self._shutting_down: set[str] = set()

    @handler("RunInstances", expand=False)
    def run_instances(self, context: RequestContext, request: dict) -> dict:
        _raise_fault("RunInstances", "before", request)
        _refuse_an_unknown_instance_type(request.get("InstanceType", "m1.small"))
        _refuse_a_profile_not_yet_propagated(context, request.get("IamInstanceProfile") or {})
        _refuse_groups_of_another_network(context, request)
        token = request.get("ClientToken")
        digest = json.dumps({k: v for k, v in request.items() if k != "ClientToken"}, sort_keys=True, default=str)
        with self._lock:
            known = self._instances_by_token.get(token) if token else None
            if known and known[0] != digest:  # the same token with any other parameter changed
                message = f"The client token {token} was used before with different parameters"
                raise CommonServiceException("IdempotentParameterMismatch", message)
            if known:
                response = _reservation_of(context, known[1])
            else:
                _refuse_over_the_vcpu_quota(context, request)
                image = str(request.get("ImageId", ""))
                if image.startswith(RESOLVE_SSM):
                    resolved = {**request, "ImageId": _parameter_value(context, image.removeprefix(RESOLVE_SSM))}
                    _refuse_a_type_of_another_architecture(context, resolved)
                    if "UserData" in request:  # the request is serialized again, and botocore encodes UserData
                        resolved["UserData"] = base64.b64decode(request["UserData"])  # bytes: gzip too
                    with self._moto_instances:
                        response = call_moto_with_request(context, resolved)
                else:
                    _refuse_a_type_of_another_architecture(context, request)
                    with self._moto_instances:
                        response = call_moto(context)
                if token:
                    self._instances_by_token[token] = (digest, [i["InstanceId"] for i in response["Instances"]])
            if not known:
                launched = [i["InstanceId"] for i in response["Instances"]]
                ec2_state_events.emit(context.account_id, context.region, launched, "pending")
                ec2_state_events.emit(context.account_id, context.region, launched, "running")
                nudge(EnginePaths.default().agent_nudges, *launched)  # the machines boot now
        _raise_fault("RunInstances", "after", request)
        return response

    @handler("TerminateInstances", expand=False)
    def terminate_instances(self, context: RequestContext, request: dict) -> dict:
        from moto.ec2.models.instances import StateReason

        backend = get_moto_backend(context)
        code = context.request.headers.get(STATE_REASON_HEADER)
        newly_ending = []
        # moto marks the instances terminated at once: a DescribeInstances before they are put back to
        # shutting-down (their OS still uploading) would see them terminated, so the two take turns
        with self._moto_instances:
            ending = {i: backend.get_instance(i) for i in request.get("InstanceIds", []) if i in self._shutting_down}
            reasons = {i: instance._state_reason for i, instance in ending.items()}  # the first end's reason counts
            response = call_moto(context)
            for change in response["TerminatingInstances"]:
                instance_id = change["InstanceId"]
                instance = backend.get_instance(instance_id)
                if instance_id in reasons:
                    instance._state_reason = reasons[instance_id]
                elif change["PreviousState"]["Name"] != "terminated":
                    if code:
                        instance._state_reason = StateReason(STATE_REASON_MESSAGES.get(code, code), code)
                    self._shutting_down.add(instance_id)
                    newly_ending.append(instance)
                if instance_id in self._shutting_down:
                    instance._state.name, instance._state.code = "shutting-down", 32
                    change["CurrentState"] = {"Code": 32, "Name": "shutting-down"}
        for instance in newly_ending:
            self._shut_down(context, instance)
        if newly_ending:  # the ones already shutting-down said so when they began
            ec2_state_events.emit(context.account_id, context.region, [i.id for i in newly_ending], "shutting-down")
        if code != OWN_SHUTDOWN:  # the agent's own call for a machine already off needs no look
            ended = [change["InstanceId"] for change in response["TerminatingInstances"]]
            nudge(EnginePaths.default().agent_nudges, *ended)  # the machines shut down now
        return response

    def _shut_down(self, context: RequestContext, instance: Any) -> None:
        """`shutting-down` while the OS stops, then `terminated` (EC2 user guide, "Instance state changes").

        A terminate through the API shuts the OS down gracefully first ("Default terminate: normal instance
        shutdown with attempted graceful OS shutdown",
        https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-terminate-methods.html): an instance the
        agent runs stays `shutting-down` until its machine is off (its bootstrap has reported), at least
        SHUTTING_DOWN_SECONDS (or its run's "ShuttingDown" fault), at most OS_SHUTDOWN_LIMIT_SECONDS after that.
        The instance is in `_shutting_down` already."""
        account, region = context.account_id, context.region
        machine = EnginePaths.default().instances / instance.id
        run_id = ec2_state_events.run_id_of_instance(account, region, instance.id)
        longer = faults.take("ShuttingDown", "before", {}, run_id)
        hold = float(longer["seconds"]) if longer else SHUTTING_DOWN_SECONDS

        def terminated_once_off() -> None:
            time.sleep(hold)
            limit = time.monotonic() + OS_SHUTDOWN_LIMIT_SECONDS
            while machine.is_dir() and not (machine / POWERED_OFF).exists() and time.monotonic() < limit:
                time.sleep(0.1)
            with self._moto_instances:
                instance._state.name, instance._state.code = "terminated", 48
                self._shutting_down.discard(instance.id)
                _disassociate_addresses(context, instance.id)
            ec2_state_events.emit(account, region, [instance.id], "terminated")

        threading.Thread(target=terminated_once_off, daemon=True).start()

    @handler("AssociateAddress", expand=False)
    def associate_address(self, context: RequestContext, request: dict) -> dict:
        """Where EC2 refuses it (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AssociateAddress.html,
        errors: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html): an instance not
        `running` or `stopped` (IncorrectInstanceState), one whose VPC has no internet gateway attached
        (Gateway.NotAttached: an Elastic IP is reached through one). moto refuses an address associated elsewhere
        unless AllowReassociation is true (Resource.AlreadyAssociated)."""
        instance_id = request.get("InstanceId")
        if instance_id:
            backend = get_moto_backend(context)
            with self._moto_instances:
                instance = backend.get_instance(instance_id)
                state = instance._state.name
            if state not in ("running", "stopped"):
                raise CommonServiceException("IncorrectInstanceState", f"The instance '{instance_id}' is not in a "
                                             f"valid state for this operation (it is {state}).")  # fmt: skip
            attached = backend.describe_internet_gateways(filters={"attachment.vpc-id": [instance.vpc_id]})
            if not attached:
                raise CommonServiceException("Gateway.NotAttached", f"Network {instance.vpc_id} is not attached to "
                                             "any internet gateway")  # fmt: skip
        return call_moto(context)

    @handler("DescribeSpotPriceHistory", expand=False)
    def describe_spot_price_history(self, context: RequestContext, request: dict) -> dict:
        """moto's offerings (types and zones, filtered as asked) at the engine's Spot prices, as of now; a type
        without one is left out."""
        spot = prices.regions().get(context.region, {}).get("spotHourly", {})
        history = call_moto(context)["SpotPriceHistory"]
        now = datetime.now(UTC)
        return {"SpotPriceHistory": [{**entry, "SpotPrice": spot[entry["InstanceType"]], "Timestamp": now,
                                      "ProductDescription": "Linux/UNIX"}
                                     for entry in history if entry["InstanceType"] in spot]}  # fmt: skip

    @handler("DescribeInstances", expand=False)
    def describe_instances(self, context: RequestContext, request: dict) -> dict:
        """An instance asked for by id moments after its launch is not found yet (EC2 is eventually consistent:
        https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html)."""
        from moto.ec2.exceptions import InvalidInstanceIdError

        if not context.is_internal_call:
            backend = get_moto_backend(context)
            for instance_id in request.get("InstanceIds") or []:
                try:
                    instance = backend.get_instance(instance_id)
                except InvalidInstanceIdError:
                    continue  # moto answers NotFound itself
                launched = datetime.fromisoformat(instance.launch_time.replace("Z", "+00:00"))
                if (datetime.now(UTC) - launched).total_seconds() < DESCRIBE_DELAY:
                    message = f"The instance ID '{instance_id}' does not exist"
                    raise CommonServiceException("InvalidInstanceID.NotFound", message)
        with self._moto_instances:
            return call_moto(context)


def _disassociate_addresses(context: RequestContext, instance_id: str) -> None:
    """A terminated instance's Elastic IPs are disassociated, and stay allocated to the account
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/elastic-ip-addresses-eip.html); moto keeps them."""
    for address in get_moto_backend(context).addresses:
        if address.instance is not None and address.instance.id == instance_id:
            if address.eni is not None:
                address.eni.public_ip = None
            address.instance, address.eni, address.association_id = None, None, None


def _parameter_value(context: RequestContext, name: str) -> str:
    value = MotoWorld(context.account_id, context.region).parameter_value(name)
    if value is None:
        message = f"The parameter {name} named by ImageId resolve:ssm:{name} does not exist"
        raise CommonServiceException("InvalidParameterValue", message)
    return value


def _refuse_an_unknown_instance_type(instance_type: str) -> None:
    """EC2 refuses a type that does not exist (moto knows every type AWS offers)."""
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    if instance_type not in INSTANCE_TYPES:
        raise CommonServiceException("InvalidParameterValue", f"Invalid value '{instance_type}' for InstanceType.")


def _refuse_over_the_vcpu_quota(context: RequestContext, request: dict) -> None:
    """EC2 refuses a launch that would take the vCPUs of the pending and running instances of the type's family
    past its quota: on demand VcpuLimitExceeded, Spot MaxSpotInstanceCountExceeded (which counts open Spot requests
    too). https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html; the words are EC2's."""
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    instance_type = request.get("InstanceType", "m1.small")
    spot = (request.get("InstanceMarketOptions") or {}).get("MarketType") == "spot"
    code = quota_code(instance_type, spot)
    quota = limits.quota("ec2", code) if code else None
    if quota is None:
        return
    backend = get_moto_backend(context)
    counted = [i for reservation in backend.reservations.values() for i in reservation.instances
               if i._state.name in ("pending", "running")]  # fmt: skip
    used = sum(INSTANCE_TYPES[i.instance_type]["VCpuInfo"]["DefaultVCpus"] for i in counted
               if quota_code(i.instance_type, i.lifecycle == "spot") == code)  # fmt: skip
    wanted = INSTANCE_TYPES[instance_type]["VCpuInfo"]["DefaultVCpus"] * int(request.get("MinCount", 1))
    if used + wanted <= quota["value"]:
        return
    if spot:
        raise CommonServiceException("MaxSpotInstanceCountExceeded", "Max spot instance count exceeded")
    raise CommonServiceException(
        "VcpuLimitExceeded",
        f"You have requested more vCPU capacity than your current vCPU limit of {quota['value']:g} allows for the "
        "instance bucket that the specified instance type belongs to. Please visit "
        "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.",
    )


def _refuse_a_type_of_another_architecture(context: RequestContext, request: dict) -> None:
    """EC2 refuses an instance type none of whose architectures is the image's (an image moto does not know is left
    to moto, which answers InvalidAMIID.NotFound)."""
    from moto.ec2.exceptions import InvalidAMIIdError
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    instance_type = request.get("InstanceType", "m1.small")
    try:
        images = get_moto_backend(context).describe_images(ami_ids=[request.get("ImageId", "")])
    except InvalidAMIIdError:
        return
    supported = INSTANCE_TYPES[instance_type].get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    image_architecture = images[0].architecture if images else None
    if image_architecture and supported and image_architecture not in supported:
        raise CommonServiceException("InvalidParameterValue", (
            f"The architecture '{supported[0]}' of the specified instance type does not match the architecture "
            f"'{image_architecture}' of the specified AMI. Specify an instance type and an AMI that have matching "
            "architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover "
            "the architecture of the instance type or AMI."))


def _refuse_groups_of_another_network(context: RequestContext, request: dict) -> None:
    interface = next((n for n in request.get("NetworkInterfaces") or [] if int(n.get("DeviceIndex", 0)) == 0), {})
    subnet_id = interface.get("SubnetId") or request.get("SubnetId")
    groups = interface.get("Groups") or request.get("SecurityGroupIds") or []
    if not subnet_id or not groups:
        return
    from moto.ec2.exceptions import InvalidSubnetIdError

    backend = get_moto_backend(context)
    try:
        vpc_id = backend.get_subnet(subnet_id).vpc_id
    except InvalidSubnetIdError:
        return  # moto names it
    for group in filter(None, (backend.get_security_group_from_id(group_id) for group_id in groups)):
        if group.vpc_id != vpc_id:
            raise CommonServiceException(
                "InvalidParameter", f"Security group {group.id} and subnet {subnet_id} belong to different networks.")


def _refuse_a_profile_not_yet_propagated(context: RequestContext, profile: dict) -> None:
    if not profile:
        return
    from moto.core.utils import utcnow
    from moto.iam.models import iam_backends

    given = profile.get("Arn") or profile.get("Name")
    found = next((p for p in iam_backends[context.account_id]["global"].instance_profiles.values()
                  if given in (p.arn, p.name)), None)  # fmt: skip
    field, label = ("arn", "ARN") if profile.get("Arn") else ("name", "name")
    if found is None or (utcnow() - found.create_date).total_seconds() < PROFILE_PROPAGATION_SECONDS:
        message = f"Value ({given}) for parameter iamInstanceProfile.{field} is invalid. "
        raise CommonServiceException("InvalidParameterValue", message + f"Invalid IAM Instance Profile {label}")


def _raise_fault(operation: str, when: str, request: dict) -> None:
    rule = faults.take(operation, when, request, faults.run_id_of(request))
    if rule and "code" not in rule:  # a slow request: it takes that long, then goes on
        time.sleep(float(rule.get("seconds", 0)))
    elif rule:
        message = rule.get("message", f"{rule['code']} (injected by the local engine's fault plan)")
        raise CommonServiceException(rule["code"], message, status_code=rule.get("status", 400))


def _reservation_of(context: RequestContext, instance_ids: list[str]) -> dict:
    ec2 = connect_to(aws_access_key_id=context.account_id, region_name=context.region).ec2
    reservation = ec2.describe_instances(InstanceIds=instance_ids)["Reservations"][0]
    return {key: reservation[key] for key in ("ReservationId", "OwnerId", "Groups", "Instances") if key in reservation}


@aws_provider(api="ec2", name="longtask")
def ec2_longtask() -> Service:
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(LocalEc2Provider(), dispatch_table_factory=MotoFallbackDispatcher)
