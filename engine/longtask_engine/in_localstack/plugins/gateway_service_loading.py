"""Serve a service's operations only once they are all routed. LocalStack 4.9.2 loads a service on its first
request and marks it loaded before it adds the service's operations to the request router: a second request
arriving in between passes the loader's check and finds no route, "InternalFailure: no handler for operation
'DescribeVpcs' on service 'ec2'" (HTTP 501), which AWS never answers. Seen in the test of an engine without its
speed patches, where the first requests of a deploy come side by side. Here the service is marked loaded after
its operations are routed, under the same lock.
Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks


@hooks.on_infra_start()
def route_services_before_serving_them() -> None:
    from localstack.aws.handlers.service_plugin import ServiceLoader
    from localstack.services.plugins import Service
    from localstack.utils.bootstrap import is_api_enabled

    def require_service(self: ServiceLoader, _: Any, context: Any, response: Any) -> None:
        if not context.service:
            return
        name = context.service.service_name
        if name in self.loaded_services:
            return
        if not self.service_manager.exists(name):
            raise NotImplementedError
        if not is_api_enabled(name):
            raise NotImplementedError(f"Service '{name}' is not enabled. Please check your 'SERVICES' configuration "
                                      "variable.")  # fmt: skip
        plugin = self.service_manager.require(name)
        with self.service_locks[name]:
            if name in self.loaded_services:
                return
            if isinstance(plugin, Service):
                self.service_request_router.add_skeleton(plugin.skeleton)
            self.loaded_services.add(name)  # only now: every operation has its route

    ServiceLoader.require_service = require_service
