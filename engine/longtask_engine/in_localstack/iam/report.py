"""The least-privilege report: for each principal, what it did (and which statement allowed it), what was
denied and why, and each statement of its policies that nothing used.

Read from the engine's decision log (enforcement.py) and the stack's roles as IAM holds them now.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from longtask_engine.in_localstack.iam.policy import role_policy_name, statements

# Statements no local run exercises, and why each is kept
KEPT = {
    "DeliverLogs": "Step Functions delivers execution logs to CloudWatch Logs with it on AWS; the engine delivers none",
    "SyncWithWatcher": (
        "startExecution.sync:2 manages its EventBridge rule with it on AWS; the engine wakes the task at the child's"
        " end itself (plugins/stepfunctions_child_ends.py)"
    ),
    "CreateTheSpotServiceLinkedRoleOnce": "used once per account, by the first Spot run, if the role is missing",
    "AWSLambdaBasicExecutionRole": "the Lambda service writes the functions' logs with it on AWS",
    "AWSXrayWriteOnlyAccess": "the X-Ray SDK sends traces with it on AWS; locally traces are not sent",
    "ReadUploadedScripts": "used by runs started by the upload trigger (the instance fetches the uploaded script)",
    "TerminateOnlyThisStacksInstances": "the outcome terminates an instance that is still running when it collects",
    "DecryptScriptsElsewhere": "used for scripts encrypted with the keys in ScriptKmsKeyArns (KMS is not modelled)",
}


@dataclass
class PrincipalReport:
    principal: str
    allowed: Counter = field(default_factory=Counter)  # (action, statement) -> calls
    resources: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (action, statement) -> resources
    denied: Counter = field(default_factory=Counter)  # (action, resource, reason) -> calls
    unused: list[tuple[str, str]] = field(default_factory=list)  # (statement label, why kept or "")


def role_statement_labels(iam: Any, role_name: str) -> list[str]:
    """Every statement of a role's policies, labelled as the engine labels them."""
    labels = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        labels += [s.label for s in statements(role_policy_name(role_name, "inline", name), document)]
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        labels.append(role_policy_name(role_name, "managed", attached["PolicyName"]))
    return labels


def build(decision_log: Path, iam: Any, role_names: list[str]) -> list[PrincipalReport]:
    """The report for the given roles (a managed policy counts as used when any of its statements was)."""
    account_roles = {r["RoleName"]: r["Arn"] for page in iam.get_paginator("list_roles").paginate()
                     for r in page["Roles"]}  # fmt: skip
    arns = [account_roles[name] for name in role_names if name in account_roles]
    reports = {arn: PrincipalReport(arn) for arn in arns}
    used: set[str] = set()
    for line in decision_log.read_text().splitlines() if decision_log.exists() else []:
        decision = json.loads(line)
        report = reports.get(decision["principal"])
        if report is None:
            continue
        if decision["allowed"]:
            key = (decision["action"], decision["statement"])
            report.allowed[key] += 1
            report.resources.setdefault(key, set()).add(decision["resource"])
            used.add(decision["statement"])
        else:
            report.denied[(decision["action"], decision["resource"], decision["reason"])] += 1
    used_prefixes = {label.split("#", 1)[0] for label in used}
    for name, arn in ((n, account_roles[n]) for n in role_names if n in account_roles):
        for label in role_statement_labels(iam, name):
            if label in used or ("/managed/" in label and label in used_prefixes):
                continue
            sid = label.rsplit("#", 1)[-1] if "#" in label else label.rsplit("/", 1)[-1]
            policy = label.split("/")[2].split("#")[0]
            reports[arn].unused.append((label, KEPT.get(sid) or KEPT.get(policy, "")))
    return list(reports.values())

