"""Make LocalStack's StartExecution refuse the execution names AWS refuses.

https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html: a name is 1 to 80
characters without white space, brackets `< > { } [ ]`, wildcards `? *`, the characters
`" # % \\ ^ | ~ ` $ & , ; : /` or control characters; else `InvalidName`. LocalStack 4.9.2 validates activity
names so, but not execution names. Runs when LocalStack starts, through the entry point
`localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks


@hooks.on_infra_start()
def refuse_invalid_execution_names() -> None:
    from localstack.services.stepfunctions.provider import StepFunctionsProvider

    start_execution = StepFunctionsProvider.start_execution

    def validated(self: StepFunctionsProvider, context: Any, state_machine_arn: str, name: str | None = None,
                  *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        if name is not None:
            StepFunctionsProvider._validate_activity_name(name)  # the same rules as for execution names
        return start_execution(self, context, state_machine_arn, name, *args, **kwargs)

    StepFunctionsProvider.start_execution = validated
