"""Make LocalStack's Step Functions ask for the managed rule a `.sync` task of `states:startExecution` needs, as
AWS does.

A state machine that starts executions and waits for them (`startExecution.sync`, `.sync:2`) learns of their ends
through a rule Step Functions manages on the default bus, StepFunctionsGetEventsForStepFunctionsExecutionRule; its
role must be allowed events:PutTargets, events:PutRule and events:DescribeRule on that rule
(https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html). AWS checks it when the state
machine is created or updated: without them CreateStateMachine is refused, "'<role>' is not authorized to create
managed-rule." (AccessDeniedException), so no such parent can run. With them the rule exists, managed by
states.amazonaws.com, and shows in ListRules and DescribeRule. LocalStack 4.9.2 neither asks nor makes it.
Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from localstack.runtime import hooks

RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"
MANAGED_BY = "states.amazonaws.com"
RULE_ACTIONS = ("events:PutTargets", "events:PutRule", "events:DescribeRule")
SYNC_START = re.compile(r"arn:aws[a-z-]*:states:::states:startExecution\.sync(:2)?\b")
# what the rule matches: the status changes of this account's executions
EVENT_PATTERN = {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"]}


def waits_for_executions(definition: str | None) -> bool:
    """Whether the definition has a Task that starts an execution and waits for it."""
    return bool(definition and SYNC_START.search(definition))


def rule_arn(region: str, account: str) -> str:
    return f"arn:aws:events:{region}:{account}:rule/{RULE}"


@hooks.on_infra_start()
def ask_for_the_managed_rule() -> None:
    from localstack.aws.api import CommonServiceException
    from localstack.aws.connect import connect_to
    from localstack.services.events.models import events_stores
    from localstack.services.stepfunctions.provider import StepFunctionsProvider

    from longtask_engine.in_localstack.iam.enforcement import MotoWorld, process_enforcer
    from longtask_engine.in_localstack.iam.operations import Check

    enforcer = process_enforcer()

    def require_the_rule(context: Any, role: str | None, definition: str | None) -> None:
        if not role or not waits_for_executions(definition):
            return
        world = MotoWorld(context.account_id, context.region)
        identity = world.role_statements(role)
        resource = rule_arn(context.region, context.account_id)
        for action in RULE_ACTIONS:
            if not enforcer.decide(role, Check(action, resource), identity, world, secure_transport=True).allowed:
                raise CommonServiceException("AccessDeniedException",
                                             f"'{role}' is not authorized to create managed-rule.")  # fmt: skip
        events = connect_to(aws_access_key_id=context.account_id, region_name=context.region).events
        events.put_rule(Name=RULE, EventPattern=json.dumps(EVENT_PATTERN), State="ENABLED",
                        Description="Rule managed by Step Functions for the status of the executions it waits for")
        events_stores[context.account_id][context.region].event_buses["default"].rules[RULE].managed_by = MANAGED_BY

    create, update = StepFunctionsProvider.create_state_machine, StepFunctionsProvider.update_state_machine

    @functools.wraps(create)  # keeps LocalStack's handler markers (CreateStateMachine takes the whole request)
    def creating(self: StepFunctionsProvider, context: Any, request: dict, **kwargs: Any) -> Any:
        require_the_rule(context, request.get("roleArn"), request.get("definition"))
        return create(self, context, request, **kwargs)

    @functools.wraps(update)
    def updating(self: StepFunctionsProvider, context: Any, state_machine_arn: str, definition: str | None = None,
                 role_arn: str | None = None, *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        current = self.get_store(context).state_machines.get(state_machine_arn)
        require_the_rule(context, role_arn or getattr(current, "role_arn", None),
                         definition or getattr(current, "definition", None))  # fmt: skip
        return update(self, context, state_machine_arn, definition, role_arn, *args, **kwargs)

    StepFunctionsProvider.create_state_machine = creating
    StepFunctionsProvider.update_state_machine = updating
