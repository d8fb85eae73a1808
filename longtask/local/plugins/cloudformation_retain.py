"""Make LocalStack's CloudFormation keep a resource whose DeletionPolicy (or, when it is replaced,
UpdateReplacePolicy) is Retain, as AWS does: deleting the stack leaves it in place ("DELETE_SKIPPED";
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html). LocalStack
4.9.2 deletes it with the stack: this stack's artifact bucket and Runs table, which must outlive it. Runs when
LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks


@hooks.on_infra_start()
def retain_resources_as_aws_does() -> None:
    from localstack.aws.api.cloudformation import ChangeAction
    from localstack.services.cloudformation.engine.v2.change_set_model_executor import ChangeSetModelExecutor
    from localstack.services.cloudformation.resource_provider import OperationStatus, ProgressEvent

    execute = ChangeSetModelExecutor._execute_resource_action

    def retaining(self: ChangeSetModelExecutor, action: Any, logical_resource_id: str, resource_type: str,
                  before_properties: Any, after_properties: Any, part_of_replacement: bool = False) -> Any:  # fmt: skip
        if action == ChangeAction.Remove:
            stack = self._change_set.stack
            template = stack.processed_template or stack.template or {}
            declared = (template.get("Resources") or {}).get(logical_resource_id) or {}
            policy = declared.get("UpdateReplacePolicy" if part_of_replacement else "DeletionPolicy")
            if policy == "Retain":
                return ProgressEvent(OperationStatus.SUCCESS, resource_model={}, message="DELETE_SKIPPED (Retain)")
        return execute(self, action, logical_resource_id, resource_type, before_properties, after_properties,
                       part_of_replacement)  # fmt: skip

    ChangeSetModelExecutor._execute_resource_action = retaining
