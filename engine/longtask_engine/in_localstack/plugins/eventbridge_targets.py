"""Make LocalStack's EventBridge start Step Functions executions as AWS does when a rule shapes the input.

LocalStack 4.9.2 names the execution after the event's `id`, so a target with `Input` or an
`InputTransformer` (whose output has no `id`) fails with "Failed to deliver to target ...: 'id'".
AWS starts such executions with a generated name. Runs when LocalStack starts, through the entry
point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

import uuid
from typing import Any

from localstack.runtime import hooks


@hooks.on_infra_start()
def name_executions_like_aws() -> None:
    from localstack.services.events.target import StatesTargetSender
    from localstack.services.events.utils import to_json_str

    deliver = StatesTargetSender.send_event

    def send_event(self: StatesTargetSender, event: Any, trace_header: Any) -> None:
        if isinstance(event, dict) and "id" in event:
            return deliver(self, event, trace_header)
        self.service = "stepfunctions"
        body = event if isinstance(event, str) else to_json_str(event)
        self.client.start_execution(stateMachineArn=self.target["Arn"], name=str(uuid.uuid4()), input=body)
        return None

    StatesTargetSender.send_event = send_event
