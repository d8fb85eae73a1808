"""The local engine's EC2: LocalStack's provider plus what the application relies on from AWS.

- RunInstances honours ClientToken (a repeated request returns the instances of the first one).
- TerminateInstances can say why an instance ended (header `x-longtask-state-reason`): the instance
  agent marks an instance's own shutdown `Client.InstanceInitiatedShutdown`, as AWS does, and tests
  can end one as `Server.SpotInstanceTermination`.
- The test-only fault plan (faults.py) injects AWS errors at this boundary.
Selected with PROVIDER_OVERRIDE_EC2=longtask; found through the entry point `localstack.aws.provider`.
"""

from __future__ import annotations

import threading

from localstack.aws.api import CommonServiceException, RequestContext, handler
from localstack.aws.connect import connect_to
from localstack.services.ec2.provider import Ec2Provider, get_moto_backend
from localstack.services.moto import call_moto
from localstack.services.plugins import Service, aws_provider

from . import faults

STATE_REASON_HEADER = "x-longtask-state-reason"


class LocalEc2Provider(Ec2Provider):
    def __init__(self) -> None:
        super().__init__()
        self._instances_by_token: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    @handler("RunInstances", expand=False)
    def run_instances(self, context: RequestContext, request: dict) -> dict:
        _raise_fault("RunInstances", "before", request)
        token = request.get("ClientToken")
        with self._lock:
            known = self._instances_by_token.get(token) if token else None
            if known:
                response = _reservation_of(context, known)
            else:
                response = call_moto(context)
                if token:
                    self._instances_by_token[token] = [i["InstanceId"] for i in response["Instances"]]
        _raise_fault("RunInstances", "after", request)
        return response

    @handler("TerminateInstances", expand=False)
    def terminate_instances(self, context: RequestContext, request: dict) -> dict:
        response = call_moto(context)
        code = context.request.headers.get(STATE_REASON_HEADER)
        if code:
            from moto.ec2.models.instances import StateReason

            backend = get_moto_backend(context)
            for change in response["TerminatingInstances"]:
                if change["PreviousState"]["Name"] not in ("shutting-down", "terminated"):  # the first end counts
                    backend.get_instance(change["InstanceId"])._state_reason = StateReason(f"{code}: {code}", code)
        return response


def _raise_fault(operation: str, when: str, request: dict) -> None:
    rule = faults.take(operation, when, request)
    if rule:
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
