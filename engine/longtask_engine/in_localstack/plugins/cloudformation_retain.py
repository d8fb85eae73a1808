"""Make LocalStack's CloudFormation honour DeletionPolicy as AWS does
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html):

- Retain (or UpdateReplacePolicy: Retain, when a resource is replaced) keeps the resource when the stack deletes
  it ("DELETE_SKIPPED"); LocalStack 4.9.2 deletes it with the stack.
- A stack whose creation fails rolls back: what it created is deleted, except a Retain resource. LocalStack 4.9.2
  leaves everything it created in place and says ROLLBACK_COMPLETE.
- RetainExceptOnCreate is Retain, except in the rollback of the operation that created the resource: a failed first
  deploy leaves nothing behind.

Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

RETAIN = "Retain"
RETAIN_EXCEPT_ON_CREATE = "RetainExceptOnCreate"


def _declared(executor: Any, logical_resource_id: str) -> dict[str, Any]:
    """The resource as the template declares it: the change set's (a stack being created has no other), else the
    stack's (a resource an update or a delete removes)."""
    change_set, stack = executor._change_set, executor._change_set.stack
    for template in (change_set.processed_template, change_set.template, stack.processed_template, stack.template):
        declared = ((template or {}).get("Resources") or {}).get(logical_resource_id)
        if declared:
            return declared
    return {}


def kept(policy: str | None, *, rolling_back_create: bool) -> bool:
    """Whether a resource with this DeletionPolicy (or UpdateReplacePolicy) outlives its removal."""
    return policy == RETAIN or (policy == RETAIN_EXCEPT_ON_CREATE and not rolling_back_create)


@hooks.on_infra_start()
def retain_resources_as_aws_does() -> None:
    from localstack.aws.api.cloudformation import ChangeAction, ChangeSetType, ResourceStatus, StackStatus
    from localstack.services.cloudformation.engine.v2.change_set_model_executor import ChangeSetModelExecutor
    from localstack.services.cloudformation.engine.v2.change_set_model_preproc import PreprocProperties
    from localstack.services.cloudformation.resource_provider import OperationStatus, ProgressEvent
    from localstack.services.cloudformation.v2.entities import Stack

    execute_action = ChangeSetModelExecutor._execute_resource_action
    execute = ChangeSetModelExecutor.execute

    def retaining(self: ChangeSetModelExecutor, action: Any, logical_resource_id: str, resource_type: str,
                  before_properties: Any, after_properties: Any, part_of_replacement: bool = False) -> Any:  # fmt: skip
        if action == ChangeAction.Remove:
            declared = _declared(self, logical_resource_id)
            policy = declared.get("UpdateReplacePolicy" if part_of_replacement else "DeletionPolicy")
            if kept(policy, rolling_back_create=False):  # a rollback of a create removes through its own path
                return ProgressEvent(OperationStatus.SUCCESS, resource_model={}, message=f"DELETE_SKIPPED ({policy})")
        return execute_action(self, action, logical_resource_id, resource_type, before_properties, after_properties,
                              part_of_replacement)  # fmt: skip

    def rolling_back_a_failed_create(self: ChangeSetModelExecutor) -> Any:
        result = execute(self)
        if not result.failure_message or self._change_set.change_set_type != ChangeSetType.CREATE:
            return result
        stack = self._change_set.stack
        stack.set_stack_status(StackStatus.ROLLBACK_IN_PROGRESS)
        failed = False
        for logical_resource_id, resource in reversed(list(self.resources.items())):
            if resource.get("ResourceStatus") != ResourceStatus.CREATE_COMPLETE:
                continue
            if kept(_declared(self, logical_resource_id).get("DeletionPolicy"), rolling_back_create=True):
                stack.set_resource_status(logical_resource_id=logical_resource_id, resource_type=resource["Type"],
                                          physical_resource_id=resource.get("PhysicalResourceId"),
                                          status=ResourceStatus.DELETE_SKIPPED)  # fmt: skip
                continue
            properties = PreprocProperties(dict(resource.get("Properties") or {}))
            event = execute_action(self, ChangeAction.Remove, logical_resource_id, resource["Type"], properties, None)
            deleted = event.status == OperationStatus.SUCCESS
            failed = failed or not deleted
            status = ResourceStatus.DELETE_COMPLETE if deleted else ResourceStatus.DELETE_FAILED
            stack.set_resource_status(logical_resource_id=logical_resource_id, resource_type=resource["Type"],
                                      physical_resource_id=resource.get("PhysicalResourceId"), status=status,
                                      resource_status_reason=event.message)  # fmt: skip
            if deleted:  # one left in place stays the stack's, for its delete to try again
                self.resources.pop(logical_resource_id)
        stack.set_stack_status(StackStatus.ROLLBACK_FAILED if failed else StackStatus.ROLLBACK_COMPLETE)
        stack.longtask_rolled_back = True
        return result

    def keeping_the_rollbacks_status(self: Stack, status: Any, *args: Any, **kwargs: Any) -> None:
        """CreateStack's own end says CREATE_FAILED when not every resource is there; after the rollback it is
        ROLLBACK_COMPLETE, as on AWS (OnFailure=ROLLBACK, the default)."""
        if getattr(self, "longtask_rolled_back", False) and status == StackStatus.CREATE_FAILED:
            return
        set_stack_status(self, status, *args, **kwargs)

    set_stack_status = Stack.set_stack_status
    ChangeSetModelExecutor._execute_resource_action = retaining
    ChangeSetModelExecutor.execute = rolling_back_a_failed_create
    Stack.set_stack_status = keeping_the_rollbacks_status
