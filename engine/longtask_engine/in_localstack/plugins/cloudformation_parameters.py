"""Make LocalStack's CloudFormation treat template parameters as AWS does
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html):

- a value outside its parameter's constraints (AllowedPattern, AllowedValues, MinLength/MaxLength,
  MinValue/MaxValue, a Number that is not one) is a ValidationError of CreateStack, UpdateStack or CreateChangeSet,
  "Parameter 'X' must match pattern ..." (or the ConstraintDescription); LocalStack 4.9.2 takes any value;
- a list parameter (`CommaDelimitedList`, `List<String>`) is a list before an update as after it: LocalStack 4.9.2's
  engine (v2, change_set_model_preproc.py) leaves the previous value a string, so updating a stack that set one
  fails wherever the template joins it ("Invalid arguments list definition for Fn::Join").

Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

import re
from typing import Any

from localstack.runtime import hooks

LIST_TYPES = ("CommaDelimitedList", "List<String>")


@hooks.on_infra_start()
def treat_parameters_as_aws_does() -> None:
    from localstack.services.cloudformation.engine.v2.change_set_model_preproc import (
        ChangeSetModelPreproc,
        PreprocEntityDelta,
    )
    from localstack.services.cloudformation.engine.validations import ValidationError
    from localstack.services.cloudformation.v2.provider import CloudformationProviderV2

    resolve_parameters = CloudformationProviderV2._resolve_parameters

    def constrained(template: dict | None, parameters: dict | None, *args: Any, **kwargs: Any) -> Any:
        for name, declared in ((template or {}).get("Parameters") or {}).items():
            value = (parameters or {}).get(name, declared.get("Default"))
            problem = None if value is None else constraint_violation(name, declared, str(value))
            if problem:
                raise ValidationError(problem)
        return resolve_parameters(template, parameters, *args, **kwargs)

    CloudformationProviderV2._resolve_parameters = staticmethod(constrained)

    visit_node_parameter = ChangeSetModelPreproc.visit_node_parameter

    def as_lists(self: ChangeSetModelPreproc, node_parameter: Any) -> Any:
        delta = visit_node_parameter(self, node_parameter)
        if isinstance(delta.before, str) and self.visit(node_parameter.type_).before in LIST_TYPES:
            return PreprocEntityDelta(before=[item.strip() for item in delta.before.split(",")], after=delta.after)
        return delta

    ChangeSetModelPreproc.visit_node_parameter = as_lists


def constraint_violation(name: str, declared: dict[str, Any], value: str) -> str | None:
    """What AWS says of a value its parameter's constraints refuse, or None."""
    message = None
    if declared.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return f"Parameter '{name}' must be a number"
        if "MinValue" in declared and number < float(declared["MinValue"]):
            message = f"Parameter '{name}' must be a number not less than {declared['MinValue']}"
        elif "MaxValue" in declared and number > float(declared["MaxValue"]):
            message = f"Parameter '{name}' must be a number not greater than {declared['MaxValue']}"
    if message is None and "AllowedValues" in declared and value not in [str(v) for v in declared["AllowedValues"]]:
        message = f"Parameter '{name}' must be one of AllowedValues"
    if message is None and "AllowedPattern" in declared and not re.fullmatch(declared["AllowedPattern"], value):
        message = f"Parameter '{name}' must match pattern {declared['AllowedPattern']}"
    if message is None and "MinLength" in declared and len(value) < int(declared["MinLength"]):
        message = f"Parameter '{name}' must contain at least {declared['MinLength']} characters"
    if message is None and "MaxLength" in declared and len(value) > int(declared["MaxLength"]):
        message = f"Parameter '{name}' must contain at most {declared['MaxLength']} characters"
    if message and declared.get("ConstraintDescription"):
        return f"Parameter '{name}' failed to satisfy constraint: {declared['ConstraintDescription']}"
    return message
