"""Make a disabled schedule rule stop firing, as on AWS: "When you disable a rule, EventBridge stops sending
events to the rule's targets" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-disable.html).
LocalStack 4.9.2's DisableRule only marks the rule DISABLED; its scheduler goes on invoking the targets (an
operator pausing the reaper's sweep, or the bench counting a run's calls, would see it fire).
Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localstack.runtime import hooks


@hooks.on_infra_start()
def skip_disabled_schedules() -> None:
    from localstack.aws.api.events import RuleState
    from localstack.services.events.provider import EventsProvider

    job_function = EventsProvider._get_scheduled_rule_job_function

    def unless_disabled(self: EventsProvider, account_id: str, region: str, rule: Any) -> Callable[..., None]:
        send = job_function(self, account_id, region, rule)

        def fire(*args: Any, **kwargs: Any) -> None:
            if rule.state != RuleState.DISABLED:
                send(*args, **kwargs)

        return fire

    EventsProvider._get_scheduled_rule_job_function = unless_disabled
