"""Have LocalStack's CloudFormation look again at a resource still in progress after CHECK_SECONDS, not 5 s,
and its Lambda function handler at a function being updated after FUNCTION_CHECK_SECONDS, not 1 s.

LocalStack 4.9.2 sleeps 5 s before each new look at a resource whose handler answered IN_PROGRESS (a Lambda
function being created or updated, for one): 5 of the 6 s a one-function update took, and most of the 30 s a
stack's creation took, were these sleeps. Its handler of an updated AWS::Lambda::Function then waits twice (after
the code, after the configuration) with botocore's `function_updated_v2` waiter, which looks every 1 s for up to
300 looks: 2 of the 3.5 s that update still took. The handlers and what they check are unchanged; they are only
asked sooner, for as long. A look at a function being created is a GetFunction, cheap since
lambda_code_location.py; a function stays Pending about 0.7 s here, so a look every 0.1 s instead of 0.5 s saves
about 0.2 s a function (a cold deploy's LocalStack slept 2.8 s instead of 3.7 s). Speed only: nothing is
accepted or refused differently. Runs when LocalStack starts, through the entry point
`localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

from . import speed_only

CHECK_SECONDS = 0.1
FUNCTION_CHECK_SECONDS = 0.1
FUNCTION_UPDATED = "FunctionUpdatedV2"  # the waiter's name in botocore's Lambda model: Delay 1, MaxAttempts 300
FUNCTION_UPDATED_LOOKS = 3000  # as long as botocore's 300 looks a second apart


@hooks.on_infra_start()
@speed_only
def check_resources_in_progress_sooner() -> None:
    from localstack import config
    from localstack.services.cloudformation.resource_provider import ResourceProviderExecutor

    deploy_loop = ResourceProviderExecutor.deploy_loop

    def sooner(self: ResourceProviderExecutor, provider: Any, resource: dict, payload: Any,
               max_timeout: int = config.CFN_PER_RESOURCE_TIMEOUT, sleep_time: float = CHECK_SECONDS) -> Any:
        return deploy_loop(self, provider, resource, payload, max_timeout, sleep_time)

    ResourceProviderExecutor.deploy_loop = sooner
    _look_at_updated_functions_sooner()


def _look_at_updated_functions_sooner() -> None:
    from botocore.waiter import Waiter

    wait = Waiter.wait

    def sooner(self: Waiter, **kwargs: Any) -> None:
        if self.name == FUNCTION_UPDATED:
            asked = {"Delay": FUNCTION_CHECK_SECONDS, "MaxAttempts": FUNCTION_UPDATED_LOOKS}
            kwargs["WaiterConfig"] = {**asked, **kwargs.get("WaiterConfig", {})}
        wait(self, **kwargs)

    Waiter.wait = sooner
