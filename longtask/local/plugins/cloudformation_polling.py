"""Have LocalStack's CloudFormation look again at a resource still in progress after CHECK_SECONDS, not 5 s.

LocalStack 4.9.2 sleeps 5 s before each new look at a resource whose handler answered IN_PROGRESS (a Lambda
function being created or updated, for one): 5 of the 6 s a one-function update took, and most of the 30 s a
stack's creation took, were these sleeps. The handlers and what they check are unchanged; they are only asked
sooner. Speed only: nothing is accepted or refused differently. Runs when LocalStack starts, through the entry
point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

CHECK_SECONDS = 0.5


@hooks.on_infra_start()
def check_resources_in_progress_sooner() -> None:
    from localstack import config
    from localstack.services.cloudformation.resource_provider import ResourceProviderExecutor

    deploy_loop = ResourceProviderExecutor.deploy_loop

    def sooner(self: ResourceProviderExecutor, provider: Any, resource: dict, payload: Any,
               max_timeout: int = config.CFN_PER_RESOURCE_TIMEOUT, sleep_time: float = CHECK_SECONDS) -> Any:
        return deploy_loop(self, provider, resource, payload, max_timeout, sleep_time)

    ResourceProviderExecutor.deploy_loop = sooner
