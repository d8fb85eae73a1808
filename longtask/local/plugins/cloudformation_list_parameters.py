"""Make LocalStack's CloudFormation read a list parameter's previous value as a list, as AWS does.

LocalStack 4.9.2's engine (v2, change_set_model_preproc.py) splits the new value of a `CommaDelimitedList` or
`List<String>` parameter into a list but leaves its previous value a string, so updating a stack that set such a
parameter fails wherever the template joins it ("Invalid arguments list definition for Fn::Join"): this stack's
`!Join ["", !Ref ScriptReadArns]` conditions. On AWS a list parameter is a list before and after
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html). Runs when
LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from typing import Any

from localstack.runtime import hooks

LIST_TYPES = ("CommaDelimitedList", "List<String>")


@hooks.on_infra_start()
def read_previous_list_parameters_as_lists() -> None:
    from localstack.services.cloudformation.engine.v2.change_set_model_preproc import (
        ChangeSetModelPreproc,
        PreprocEntityDelta,
    )

    visit_node_parameter = ChangeSetModelPreproc.visit_node_parameter

    def as_lists(self: ChangeSetModelPreproc, node_parameter: Any) -> Any:
        delta = visit_node_parameter(self, node_parameter)
        if isinstance(delta.before, str) and self.visit(node_parameter.type_).before in LIST_TYPES:
            return PreprocEntityDelta(before=[item.strip() for item in delta.before.split(",")], after=delta.after)
        return delta

    ChangeSetModelPreproc.visit_node_parameter = as_lists
