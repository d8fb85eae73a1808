"""Make LocalStack's StartExecution refuse an input over Step Functions' payload limit, as AWS does: 256 KiB of
UTF-8 (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html; StartExecution's `input` has a
maximum length of 262144, https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
LocalStack 4.9.2 takes any size. A parent's `states:startExecution` task goes through the same call. Runs when
LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

PAYLOAD_LIMIT_BYTES = 256 * 1024


def input_too_large(text: str | None) -> str | None:
    """AWS's validation message for an input over the limit, or None."""
    if text is None or len(text.encode()) <= PAYLOAD_LIMIT_BYTES:
        return None
    return ("1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length "
            f"less than or equal to {PAYLOAD_LIMIT_BYTES}")  # fmt: skip


@hooks.on_infra_start()
def refuse_inputs_over_the_payload_limit() -> None:
    from localstack.aws.api import CommonServiceException
    from localstack.services.stepfunctions.provider import StepFunctionsProvider

    start_execution = StepFunctionsProvider.start_execution

    def limited(self: StepFunctionsProvider, context: Any, state_machine_arn: str, name: str | None = None,
                input: str | None = None, *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        message = input_too_large(input)
        if message:
            raise CommonServiceException("ValidationException", message)
        return start_execution(self, context, state_machine_arn, name, input, *args, **kwargs)

    StepFunctionsProvider.start_execution = limited
