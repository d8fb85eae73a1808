"""IAM policy evaluation within one account, as AWS documents it.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
- an explicit Deny in any policy wins; else an Allow in an identity policy or in a resource policy
  naming the principal allows; else the request is implicitly denied;
- Action/NotAction match case-insensitively, Resource/NotResource case-sensitively, `*` and `?` wildcards
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html);
- Condition: operators AND-ed, keys AND-ed, values OR-ed; `...IfExists` is true when the key is absent;
  a negated operator (StringNotEquals, ...) is true when the key is absent; `ForAnyValue:`/`ForAllValues:`
  over multivalued keys (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html,
  .../reference_policies_condition-single-vs-multi-valued-context-keys.html).

Standard library only: it runs inside LocalStack's pinned environment. (policy_sentry and policyuniverse parse
and expand policies but evaluate no conditions.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

ALLOW, DENY = "Allow", "Deny"


@dataclass(frozen=True)
class Request:
    """One authorization question: may principal do action on resource, given these condition keys?"""

    principal: str  # the role ARN (an assumed-role session acts as its role)
    action: str  # service:Action
    resource: str  # an ARN, or "*" for actions without resource-level permissions
    context: Mapping[str, list[str]] = field(default_factory=dict)  # condition key -> values


@dataclass(frozen=True)
class Statement:
    """A statement of a named policy (for the decision's explanation and the least-privilege report)."""

    policy: str  # e.g. "role/MyRole/inline/RunOutputs" or "bucket/my-bucket"
    index: int
    body: Mapping[str, Any]

    @property
    def label(self) -> str:
        sid = self.body.get("Sid")
        return f"{self.policy}#{sid or self.index}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "allowed by <statement>", "explicitly denied by <statement>", "no statement allows it"
    statement: Statement | None = None


def role_policy_name(role_name: str, kind: str, policy_name: str) -> str:
    """How a role's policy is named in decisions and reports: `<role>/inline/<policy>`, `<role>/managed/<policy>`,
    `<role>/trust`."""
    return "/".join(part for part in (role_name, kind, policy_name) if part)


def statements(policy_name: str, document: Mapping[str, Any] | str) -> list[Statement]:
    """The statements of a policy document (JSON text or parsed)."""
    if isinstance(document, str):
        return list(_parsed_statements(policy_name, document))
    body = document.get("Statement", [])
    body = [body] if isinstance(body, dict) else body
    return [Statement(policy_name, index, statement) for index, statement in enumerate(body)]


@lru_cache(maxsize=1024)
def _parsed_statements(policy_name: str, document: str) -> tuple[Statement, ...]:
    """Parsed once per policy text: every request of a principal reads the same documents."""
    return tuple(statements(policy_name, json.loads(document)))


def evaluate(request: Request, identity: Iterable[Statement], resource: Iterable[Statement] = ()) -> Decision:
    """AWS's decision for a request within one account (no SCPs, boundaries or session policies here)."""
    identity, resource = list(identity), list(resource)
    for statement in identity + resource:
        if statement.body.get("Effect") == DENY and _applies(statement, request, statement in resource):
            return Decision(False, f"explicitly denied by {statement.label}", statement)
    for statement in identity:
        if statement.body.get("Effect") == ALLOW and _applies(statement, request, False):
            return Decision(True, f"allowed by {statement.label}", statement)
    for statement in resource:
        if statement.body.get("Effect") == ALLOW and _applies(statement, request, True):
            return Decision(True, f"allowed by {statement.label}", statement)
    return Decision(False, "no identity-based or resource-based policy allows it (implicit deny)")


def _applies(statement: Statement, request: Request, resource_policy: bool) -> bool:
    body = statement.body
    if resource_policy and not _principal_matches(body, request.principal):
        return False
    if not _element_matches(body, "Action", request.action, case_sensitive=False):
        return False
    if ("Resource" in body or "NotResource" in body) and not _element_matches(
        body, "Resource", request.resource, case_sensitive=True
    ):
        return False
    return conditions_hold(body.get("Condition", {}), request.context)


def _element_matches(body: Mapping[str, Any], name: str, value: str, case_sensitive: bool) -> bool:
    if name in body:
        return any(wildcard_match(pattern, value, case_sensitive) for pattern in _as_list(body[name]))
    if f"Not{name}" in body:
        return not any(wildcard_match(pattern, value, case_sensitive) for pattern in _as_list(body[f"Not{name}"]))
    return False


def _principal_matches(body: Mapping[str, Any], principal: str) -> bool:
    """A resource policy's Principal: "*", {"AWS": "*" | account | role ARN}, {"Service": ...}."""
    if "NotPrincipal" in body:
        return not _principal_in(body["NotPrincipal"], principal)
    return _principal_in(body.get("Principal"), principal)


def _principal_in(element: Any, principal: str) -> bool:
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    account = principal.split(":")[4] if principal.count(":") >= 5 else ""
    for kind, values in element.items():
        for value in _as_list(values):
            if kind == "AWS" and value in ("*", principal, account, f"arn:aws:iam::{account}:root"):
                return True
            if kind == "Service" and value == principal:
                return True
    return False


def wildcard_match(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` any one character; nothing else is special."""
    return _compiled(pattern, case_sensitive).fullmatch(value) is not None


@cache
def _compiled(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


# --- conditions -------------------------------------------------------------------------------------------------


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, list[str]]) -> bool:
    """Every operator block holds (AND); within one, every key holds (AND)."""
    keys = {key.lower(): values for key, values in context.items()}  # condition key names are case-insensitive
    for operator, tests in condition.items():
        for key, policy_values in tests.items():
            if not _condition_holds(operator, keys.get(key.lower()), [str(v) for v in _as_list(policy_values)]):
                return False
    return True


def _condition_holds(operator: str, request_values: list[str] | None, policy_values: list[str]) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists") and name != "IfExists"
    name = name.removesuffix("IfExists") if if_exists else name
    if name == "Null":
        absent = not request_values
        return any((value.lower() == "true") == absent for value in policy_values)
    if name not in _OPERATORS:
        raise ValueError(f"condition operator {operator} is not modelled by the local engine")
    test, negated = _OPERATORS[name]
    if qualifier == "ForAllValues":
        # true when every value in the request matches a policy value (and trivially when there is none)
        return all(_one_value(test, negated, value, policy_values) for value in request_values or [])
    if qualifier == "ForAnyValue":
        return any(_one_value(test, negated, value, policy_values) for value in request_values or [])
    if not request_values:
        return if_exists or negated
    return all(_one_value(test, negated, value, policy_values) for value in request_values)


def _one_value(test: Any, negated: bool, value: str, policy_values: list[str]) -> bool:
    matched = any(test(value, expected) for expected in policy_values)
    return not matched if negated else matched


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(compare: Any) -> Any:
    def test(value: str, expected: str) -> bool:
        left, right = _number(value), _number(expected)
        return left is not None and right is not None and compare(left, right)

    return test


def _arn_like(value: str, expected: str) -> bool:
    """ArnLike compares each of the six colon-separated parts with wildcards."""
    got, want = value.split(":", 5), expected.split(":", 5)
    return len(got) == len(want) == 6 and all(wildcard_match(w, g) for g, w in zip(got, want, strict=True))


_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (lambda v, e: v == e, False),
    "StringNotEquals": (lambda v, e: v == e, True),
    "StringEqualsIgnoreCase": (lambda v, e: v.lower() == e.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda v, e: v.lower() == e.lower(), True),
    "StringLike": (lambda v, e: wildcard_match(e, v), False),
    "StringNotLike": (lambda v, e: wildcard_match(e, v), True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (lambda v, e: v.lower() == e.lower(), False),
    "NumericEquals": (_numeric(lambda a, b: a == b), False),
    "NumericNotEquals": (_numeric(lambda a, b: a == b), True),
    "NumericLessThan": (_numeric(lambda a, b: a < b), False),
    "NumericLessThanEquals": (_numeric(lambda a, b: a <= b), False),
    "NumericGreaterThan": (_numeric(lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, b: a >= b), False),
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
