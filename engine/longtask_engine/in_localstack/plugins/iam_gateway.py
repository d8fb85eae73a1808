"""Put IAM enforcement into LocalStack's request chain (through the entry point `localstack.hooks.on_infra_start`).

Also where S3 answers as AWS does for a missing key: 404 NoSuchKey only when the caller may s3:ListBucket the
bucket (evaluated with s3:prefix set to the key), else 403 AccessDenied
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions").
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

from longtask_engine.in_localstack.iam.enforcement import (
    Enforcer,
    MotoWorld,
    access_denied,
    denial_message,
    process_enforcer,
)
from longtask_engine.in_localstack.iam.operations import Check, copy_source

MISSING_KEY_OPERATIONS = {"GetObject", "HeadObject", "CopyObject"}


def make_handler(enforcer: Enforcer) -> Any:
    from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header

    def enforce_iam(chain: Any, context: Any, response: Any) -> None:
        if not context.service or not context.operation or context.service_request is None:
            return
        service, operation = context.service.service_name, context.operation.name
        world = MotoWorld(context.account_id, context.region)
        internal = context.internal_request_params or {}
        if service == "sts" and operation == "AssumeRole" and internal.get("service_principal"):
            role_arn = context.service_request["RoleArn"]
            decision = enforcer.authorize_assume_role(internal["service_principal"], role_arn, world)
            if not decision.allowed:
                message = f"{internal['service_principal']} is not authorized to perform: sts:AssumeRole on {role_arn}"
                raise access_denied(service, message)
            return
        principal = enforcer.principal(extract_access_key_id_from_auth_header(context.request.headers),
                                       context.account_id)  # fmt: skip
        if principal is None and internal.get("service_principal") and (service, operation) == ("lambda", "Invoke"):
            # a rule target without a RoleArn: the function's resource policy decides (Lambda permissions)
            function = context.service_request["FunctionName"]
            decision = enforcer.authorize_service_invoke(internal["service_principal"], function,
                                                         internal.get("source_arn"), world)  # fmt: skip
            if not decision.allowed:
                who = internal["service_principal"]
                raise access_denied(service, f"{who} is not authorized to perform: lambda:InvokeFunction on {function}")
            return
        if principal is None:
            return
        secure = context.request.scheme == "https"
        decision, check = enforcer.authorize(service, operation, context.service_request, principal, world, secure)
        if not decision.allowed:
            action = check.action if check else f"{service}:{operation}"
            raise access_denied(service, denial_message(principal, check, action, decision), check and check.error)
        if service == "ec2" and operation == "RunInstances":
            _create_spot_role_if_needed(context.service_request, world)
        if service == "s3" and operation in MISSING_KEY_OPERATIONS:
            _refuse_missing_key_without_list(enforcer, context, principal, world, secure)

    return enforce_iam


def _create_spot_role_if_needed(request: Any, world: MotoWorld) -> None:
    """RunInstances creates the Spot service-linked role on first use (once the caller may)."""
    spot = (request.get("InstanceMarketOptions") or {}).get("MarketType") == "spot"
    if spot and not world.service_linked_role_exists("AWSServiceRoleForEC2Spot"):
        world.create_service_linked_role("spot.amazonaws.com", "AWSServiceRoleForEC2Spot")


def _refuse_missing_key_without_list(enforcer: Enforcer, context: Any, principal: str, world: MotoWorld,
                                     secure: bool) -> None:  # fmt: skip
    request = context.service_request
    bucket, key = copy_source(request["CopySource"]) if "CopySource" in request else (request["Bucket"], request["Key"])
    if world.object_exists(bucket, key):
        return
    check = Check("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": [key]})
    if not enforcer.decide(principal, check, world.role_statements(principal), world, secure).allowed:
        # Without s3:ListBucket, S3 does not tell a missing key from a forbidden one.
        raise access_denied("s3", "Access Denied")


@hooks.on_infra_start()
def enforce_iam_per_principal() -> None:
    from localstack.aws.handlers import serve_custom_service_request_handlers

    serve_custom_service_request_handlers.append(make_handler(process_enforcer()))
