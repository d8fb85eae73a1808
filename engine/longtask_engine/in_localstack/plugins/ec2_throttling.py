"""EC2's API throttling, as "Request throttling for the Amazon EC2 API" describes it
(https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html): per account and Region, each action
draws a token from its request bucket, RunInstances and TerminateInstances also one per instance from their resource
bucket; over a bucket EC2 answers RequestLimitExceeded (HTTP 503) and takes nothing. Sizes and refill rates:
limits.py. The engine's own instance agent (its User-Agent says so) plays machines, not a caller of the account's
API, and draws nothing. Runs in LocalStack's request chain, through the entry point
`localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

from longtask_engine.in_localstack.limits import AGENT_USER_AGENT, RESOURCE, TokenBuckets, count_throttled


def wanted_tokens(operation: str, request: dict[str, Any]) -> dict[str, int]:
    """The tokens a request draws: one from its action's bucket, and per instance from a resource bucket."""
    wanted = {operation: 1}
    if operation == "RunInstances":
        wanted[operation + RESOURCE] = int(request.get("MaxCount") or 1)
    elif operation == "TerminateInstances":
        wanted[operation + RESOURCE] = len(request.get("InstanceIds") or [])
    return wanted


def make_handler(buckets: TokenBuckets) -> Any:
    from localstack.aws.api import CommonServiceException

    def throttle(chain: Any, context: Any, response: Any) -> None:
        if not context.service or context.service.service_name != "ec2" or not context.operation:
            return
        if AGENT_USER_AGENT in context.request.headers.get("User-Agent", ""):
            return
        lacking = buckets.take(context.account_id, context.region,
                               wanted_tokens(context.operation.name, context.service_request or {}))  # fmt: skip
        if lacking is not None:
            count_throttled(context.operation.name)
            raise CommonServiceException("RequestLimitExceeded", "Request limit exceeded.", status_code=503)

    return throttle


@hooks.on_infra_start()
def throttle_ec2_requests() -> None:
    from localstack.aws.handlers import serve_custom_service_request_handlers

    serve_custom_service_request_handlers.append(make_handler(TokenBuckets()))
