"""The test-only fault plan (faults.py) for Lambda's Invoke: an error Lambda answers before the function runs, such
as TooManyRequestsException (HTTP 429) when the account's concurrency is taken, which LocalStack never answers. A
rule names the function (`function`: part of its name) and the run (`runId`, found in the payload the workflow
sends: the launcher's `execution.name`, the outcome's `runId`):

    {"operation": "Invoke", "function": "LauncherFunction", "code": "TooManyRequestsException", "status": 429,
     "runId": "it-3f2a…", "times": 8}

Runs in LocalStack's request chain, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

import io
import json
from typing import Any

from localstack.runtime import hooks

from longtask_engine.in_localstack.plugins import faults


def payload_of(request: dict[str, Any]) -> bytes:
    """The request's payload, left for Lambda to read as it came: a stream is read here and put back as a new
    one."""
    payload = request.get("Payload")
    if hasattr(payload, "getvalue"):
        return payload.getvalue()
    if hasattr(payload, "read"):
        data = payload.read()
        request["Payload"] = io.BytesIO(data)
        return data
    return payload or b""


def run_id_of(payload: bytes | str) -> str | None:
    """The run an invocation is for, from the payload the workflow sends."""
    try:
        event = json.loads(payload or b"{}")
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    return (event.get("execution") or {}).get("name") or event.get("runId")


def refuse_faulted_invokes(chain: Any, context: Any, response: Any) -> None:
    from localstack.aws.api import CommonServiceException

    if not context.service or context.service.service_name != "lambda" or not context.operation:
        return
    if context.operation.name != "Invoke":
        return
    if not faults.planned("Invoke"):
        return
    request = context.service_request or {}
    rule = faults.take("Invoke", "before", request, run_id_of(payload_of(request)))
    if rule is not None:
        message = rule.get("message", "Rate Exceeded.")
        raise CommonServiceException(rule["code"], message, status_code=int(rule.get("status", 400)))


@hooks.on_infra_start()
def inject_lambda_faults() -> None:
    from localstack.aws.handlers import serve_custom_service_request_handlers

    serve_custom_service_request_handlers.append(refuse_faulted_invokes)
