"""Have LocalStack's CloudFormation look again at a resource still in progress after CHECK_SECONDS, not 5 s, and its
Lambda function handler at a function being updated after FUNCTION_CHECK_SECONDS, not 1 s: those sleeps were most
of a deploy's time. The handlers and what they check are unchanged; they are only asked sooner, for as long. Runs
when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

from longtask_engine.in_localstack.speed import speed_only

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
