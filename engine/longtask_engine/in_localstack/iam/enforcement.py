"""IAM enforced per principal inside LocalStack, where the community edition enforces none.

A request handler in LocalStack's chain, after the request is parsed. Requests signed with the credentials
of an assumed role (a Lambda function's role, a state machine's role, a rule target's role, an instance
profile's role) are *application principals*: each is authorized as AWS would (policy.py, operations.py)
and a denied one fails with the service's own error. Requests with the account's own keys (the CLI, the
tests, the deploy) act as the account's administrator and are not evaluated. Every decision is appended
to the decision log that `longtask local iam-report` reads.

Runs inside LocalStack (installed through the entry point `localstack.hooks.on_infra_start`).
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from longtask_engine.in_localstack.iam import operations
from longtask_engine.in_localstack.iam.policy import (
    Decision,
    Request,
    Statement,
    evaluate,
    role_policy_name,
    statements,
)

DECISION_LOG_ENV = "LONGTASK_IAM_DECISION_LOG"
MANAGED_POLICIES = json.loads((Path(__file__).with_name("aws_managed_policies.json")).read_text())
# The service's own error for a denied request (each service's API reference, "Common errors")
DENIED = {
    "ec2": ("UnauthorizedOperation", 403),
    "s3": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
}
DEFAULT_DENIED = ("AccessDeniedException", 400)  # DynamoDB, Step Functions, EventBridge, SSM


def service_principal(service: str) -> str:
    """The principal of an AWS service as policies name it (LocalStack's internal calls name the service only)."""
    return f"{service}.amazonaws.com"


class MotoWorld:
    """What authorization needs to know of existing resources, read from LocalStack's moto backends."""

    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region

    def _ec2(self) -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account][self.region]

    def _iam(self) -> Any:
        from moto.iam.models import iam_backends

        return iam_backends[self.account]["global"]

    def instance_tags(self, instance_id: str) -> dict[str, str]:
        try:
            instance = self._ec2().get_instance(instance_id)
        except Exception:  # an unknown instance: EC2 answers InvalidInstanceID.NotFound after authorization
            return {}
        return {tag["key"]: tag["value"] for tag in self._ec2().describe_tags(filters={"resource-id": [instance.id]})}

    def default_subnet(self) -> str | None:
        subnets = [s for s in self._ec2().describe_subnets() if getattr(s, "default_for_az", False)]
        return sorted(subnets, key=lambda s: s.availability_zone)[0].id if subnets else None

    def default_security_group(self, subnet_id: str | None) -> str | None:
        ec2 = self._ec2()
        vpc_id = ec2.get_subnet(subnet_id).vpc_id if subnet_id else None
        for group in ec2.describe_security_groups(filters={"group-name": ["default"]}):
            if vpc_id is None or group.vpc_id == vpc_id:
                return group.id
        return None

    def instance_profile_role(self, profile: Mapping[str, str]) -> str | None:
        for candidate in self._iam().instance_profiles.values():
            if profile.get("Arn") in (candidate.arn,) or profile.get("Name") == candidate.name:
                return candidate.roles[0].arn if candidate.roles else None
        return None

    def service_linked_role_exists(self, name: str) -> bool:
        return any(role.name == name for role in self._iam().roles.values())

    def parameter_value(self, name: str) -> str | None:
        from moto.ssm.models import ssm_backends

        found = ssm_backends[self.account][self.region].get_parameter(name)
        return found.value if found is not None else None

    def parameter_key(self, name: str) -> str | None:
        """The KMS key a SecureString parameter is encrypted with (None: not a SecureString)."""
        from moto.ssm.models import ssm_backends

        found = ssm_backends[self.account][self.region].get_parameter(name)
        if found is None or found.parameter_type != "SecureString":
            return None
        return found.keyid or "alias/aws/ssm"

    def secret(self, secret_id: str) -> tuple[str, str | None] | None:
        """A secret's full ARN and the KMS key it was created with (None: the AWS managed key); None if unknown."""
        from moto.secretsmanager.models import secretsmanager_backends

        found = secretsmanager_backends[self.account][self.region].secrets.get(secret_id)
        return (found.arn, getattr(found, "kms_key_id", None)) if found is not None else None

    def customer_key_arn(self, key: str) -> str | None:
        """The ARN of a customer managed key named by id, ARN or alias; None for an AWS managed key (alias/aws/...)
        or one the engine does not know."""
        from localstack.services.kms.models import kms_stores

        store = kms_stores[self.account][self.region]
        key_id = key.rsplit(":", 1)[-1] if key.startswith("arn:") else key
        if key_id.startswith("alias/"):
            alias = store.aliases.get(key_id)
            key_id = alias.metadata["TargetKeyId"] if alias is not None else ""
        found = store.keys.get(key_id.removeprefix("key/"))
        if found is None or found.metadata.get("KeyManager") != "CUSTOMER":
            return None
        return str(found.metadata["Arn"])

    def create_service_linked_role(self, service: str, name: str) -> None:
        """As IAM names and places it (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html)."""
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})  # fmt: skip
        self._iam().create_role(name, trust, f"/aws-service-role/{service}/", None,
                                f"Service-linked role for {service}", [], "3600", linked_service=service)  # fmt: skip

    def _role(self, role_arn: str) -> Any:
        return next((r for r in self._iam().roles.values() if r.arn == role_arn), None)

    def role_statements(self, role_arn: str) -> list[Statement]:
        """The identity policies of a role: its inline policies and the managed policies attached to it."""
        role = self._role(role_arn)
        if role is None:
            return []
        found = []
        for name, document in role.policies.items():
            found += statements(role_policy_name(role.name, "inline", name), document)
        for arn, policy in role.managed_policies.items():
            document = MANAGED_POLICIES.get(arn) or policy.versions[-1].document
            found += statements(role_policy_name(role.name, "managed", arn.rsplit("/", 1)[-1]), document)
        return found

    def role_trust_statements(self, role_arn: str) -> list[Statement]:
        role = self._role(role_arn)
        return statements(role_policy_name(role.name, "trust", ""), role.assume_role_policy_document) if role else []

    def bucket_statements(self, bucket: str) -> list[Statement]:
        from localstack.services.s3.models import s3_stores

        found = s3_stores[self.account][self.region].buckets.get(bucket)
        return statements(f"bucket/{bucket}", found.policy) if found is not None and found.policy else []

    def function_statements(self, function_name: str) -> list[Statement]:
        """A Lambda function's resource policy: the permissions added to it (AddPermission, SAM's event sources)."""
        from localstack.services.lambda_.invocation.models import lambda_stores

        name = function_name.split(":function:")[-1].split(":")[0]
        function = lambda_stores[self.account][self.region].functions.get(name)
        if function is None:
            return []
        found = []
        for qualifier, permission in function.permissions.items():
            found += statements(f"function/{name}/{qualifier}", {"Statement": permission.policy.Statement})
        return found

    def object_exists(self, bucket: str, key: str) -> bool:
        from localstack.services.s3.models import s3_stores

        found = s3_stores[self.account][self.region].buckets.get(bucket)
        if found is None:
            return False
        obj = found.objects.get(key)
        return obj is not None and not getattr(obj, "is_delete_marker", False)


class Enforcer:
    """Authorizes the requests of application principals and logs every decision."""

    def __init__(self, decision_log: Path | None) -> None:
        self.decision_log = decision_log.open("a", buffering=1) if decision_log else None  # a line at a time
        self._roles_by_key: dict[str, str | None] = {}  # None: the account's own keys (STS issues new keys only)
        self._lock = threading.Lock()

    def principal(self, access_key: str | None, account: str) -> str | None:
        """The role ARN an access key acts as (assumed-role credentials), else None (the account's own keys)."""
        if not access_key:
            return None
        if access_key not in self._roles_by_key:
            from moto.sts.models import sts_backends

            assumed = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
            self._roles_by_key[access_key] = assumed.role_arn if assumed else None
        return self._roles_by_key[access_key]

    def authorize(self, service: str, operation: str, request: Mapping[str, Any], principal: str, world: MotoWorld,
                  secure_transport: bool) -> tuple[Decision, operations.Check | None]:  # fmt: skip
        """The first check that is denied (with its decision), else the last allow."""
        if (service, operation) in operations.NO_AUTHORIZATION:
            return Decision(True, "no permission is required"), None
        modelled = operations.MODELS.get((service, operation))
        if modelled is None:
            decision = Decision(False, f"{service}:{operation} is not modelled by the local engine, so it is denied; "
                                       "add it to engine/longtask_engine/in_localstack/iam/operations.py")  # fmt: skip
            self.record(principal, f"{service}:{operation}", "*", decision, call=f"{service}:{operation}")
            return decision, None
        identity = world.role_statements(principal)
        decision, check = Decision(True, "nothing to check"), None
        for index, check in enumerate(modelled({**request, "__operation__": operation}, world)):
            call = f"{service}:{operation}" if index == 0 else None  # the request, once, on its first check
            decision = self.decide(principal, check, identity, world, secure_transport, call)
            if not decision.allowed:
                return decision, check
        return decision, check

    def decide(self, principal: str, check: operations.Check, identity: list[Statement], world: MotoWorld,
               secure_transport: bool, call: str | None = None) -> Decision:  # fmt: skip
        """One check of a principal's request: its identity policies, and the bucket policy for S3; recorded."""
        context = {**check.context, "aws:SecureTransport": [str(secure_transport).lower()],
                   "aws:PrincipalArn": [principal]}  # fmt: skip
        resource = world.bucket_statements(_bucket(check.resource)) if check.action.startswith("s3:") else []
        decision = evaluate(Request(principal, check.action, check.resource, context), identity, resource)
        self.record(principal, check.action, check.resource, decision, call)
        return decision

    def authorize_assume_role(self, service: str, role_arn: str, world: MotoWorld) -> Decision:
        """A service assumes a role only if the role's trust policy names it."""
        principal = service_principal(service)
        request = Request(principal, "sts:AssumeRole", role_arn)
        decision = evaluate(request, [], world.role_trust_statements(role_arn))
        self.record(principal, "sts:AssumeRole", role_arn, decision)
        return decision

    def authorize_service_invoke(self, service: str, function_name: str, source_arn: str | None,
                                 world: MotoWorld) -> Decision:  # fmt: skip
        """A service (an EventBridge rule) invokes a function only where the function's resource policy lets it."""
        principal = service_principal(service)
        resource = function_name if function_name.startswith("arn:") else (
            f"arn:aws:lambda:{world.region}:{world.account}:function:{function_name}")  # fmt: skip
        context = {"aws:SourceArn": [source_arn]} if source_arn else {}
        request = Request(principal, "lambda:InvokeFunction", resource, context)
        decision = evaluate(request, [], world.function_statements(function_name))
        self.record(principal, "lambda:InvokeFunction", resource, decision, call="lambda:Invoke")
        return decision

    def record(self, principal: str, action: str, resource: str, decision: Decision, call: str | None = None) -> None:
        """Append the decision to the decision log (what `longtask local iam-report` reads). `call`: the API
        operation, on the first check of each request only, so that the log counts calls (bench/scale.py)."""
        if self.decision_log is None:
            return
        line = json.dumps({
            "principal": principal, "action": action, "resource": resource, "allowed": decision.allowed,
            "statement": decision.statement.label if decision.statement else None, "reason": decision.reason,
            **({"call": call} if call else {}),
        })  # fmt: skip
        with self._lock:
            self.decision_log.write(line + "\n")


@functools.cache
def process_enforcer() -> Enforcer:
    """The one Enforcer of LocalStack's process, logging to DECISION_LOG_ENV's file (the gateway's handler and the
    plug-ins that check a role outside a request share it, and its lock over the log)."""
    log = os.environ.get(DECISION_LOG_ENV)
    return Enforcer(Path(log) if log else None)


def _bucket(arn: str) -> str:
    return arn.removeprefix("arn:aws:s3:::").split("/", 1)[0]


def denial_message(principal: str, check: operations.Check | None, action: str, decision: Decision) -> str:
    """AWS's wording: who may not do what on which resource, and why."""
    resource = check.resource if check else "*"
    why = "with an explicit deny" if decision.statement else "because " + decision.reason
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"


def access_denied(service: str, message: str, code: str | None = None) -> Exception:
    from localstack.aws.api import CommonServiceException

    default_code, status = DENIED.get(service, DEFAULT_DENIED)
    return CommonServiceException(code or default_code, message, status_code=status)
