"""The local engine's IAM evaluator, against the examples of AWS's policy documentation."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from longtask_engine.in_localstack.iam import policy as policy_module
from longtask_engine.in_localstack.iam.operations import MODELS
from longtask_engine.in_localstack.iam.policy import Request, conditions_hold, evaluate, statements, wildcard_match

ROLE = "arn:aws:iam::000000000000:role/launcher"
BUCKET_ARN = "arn:aws:s3:::my-bucket"


def identity(*body: dict) -> list:
    return statements("role/launcher/inline/p", {"Version": "2012-10-17", "Statement": list(body)})


def test_implicit_deny_when_nothing_allows() -> None:
    decision = evaluate(Request(ROLE, "s3:GetObject", f"{BUCKET_ARN}/k"), [])
    assert not decision.allowed and "implicit deny" in decision.reason


def test_explicit_deny_beats_allow() -> None:
    # "An explicit deny in any policy overrides any allows" (policy evaluation logic)
    policies = identity(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
    )
    assert evaluate(Request(ROLE, "s3:GetObject", f"{BUCKET_ARN}/k"), policies).allowed
    denied = evaluate(Request(ROLE, "s3:DeleteObject", f"{BUCKET_ARN}/k"), policies)
    assert not denied.allowed and denied.reason == "explicitly denied by role/launcher/inline/p#NoDelete"


def test_actions_match_case_insensitively_resources_case_sensitively() -> None:
    policies = identity({"Effect": "Allow", "Action": "S3:getobject", "Resource": f"{BUCKET_ARN}/runs/*"})
    assert evaluate(Request(ROLE, "s3:GetObject", f"{BUCKET_ARN}/runs/a/b"), policies).allowed
    assert not evaluate(Request(ROLE, "s3:GetObject", f"{BUCKET_ARN}/RUNS/a"), policies).allowed


def test_not_action_and_not_resource() -> None:
    policies = identity({"Effect": "Allow", "NotAction": "iam:*", "NotResource": f"{BUCKET_ARN}/secret/*"})
    assert evaluate(Request(ROLE, "s3:GetObject", f"{BUCKET_ARN}/open/k"), policies).allowed
    assert not evaluate(Request(ROLE, "iam:PassRole", "*"), policies).allowed
    assert not evaluate(Request(ROLE, "s3:GetObject", f"{BUCKET_ARN}/secret/k"), policies).allowed


def test_question_mark_is_one_character() -> None:
    assert wildcard_match("arn:aws:s3:::b/log?.txt", "arn:aws:s3:::b/log1.txt")
    assert not wildcard_match("arn:aws:s3:::b/log?.txt", "arn:aws:s3:::b/log12.txt")
    assert not wildcard_match("a.b", "axb")  # a dot is a dot


def test_resource_policy_allows_a_named_principal_and_denies_without_tls() -> None:
    bucket_policy = statements(
        "bucket/my-bucket",
        {
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject",
                 "Resource": f"{BUCKET_ARN}/*"},
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ]
        },
    )
    tls = {"aws:SecureTransport": ["true"]}
    assert evaluate(Request(ROLE, "s3:GetObject", f"{BUCKET_ARN}/k", tls), [], bucket_policy).allowed
    other = "arn:aws:iam::000000000000:role/other"
    assert not evaluate(Request(other, "s3:GetObject", f"{BUCKET_ARN}/k", tls), [], bucket_policy).allowed
    plain = evaluate(Request(ROLE, "s3:GetObject", f"{BUCKET_ARN}/k", {"aws:SecureTransport": ["false"]}), [],
                     bucket_policy)  # fmt: skip
    assert not plain.allowed and "DenyInsecureTransport" in plain.reason


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        # several values for one key are OR-ed; several keys AND-ed
        ({"StringEquals": {"aws:RequestTag/team": ["a", "b"]}}, {"aws:RequestTag/team": ["b"]}, True),
        ({"StringEquals": {"aws:RequestTag/team": "a", "ec2:InstanceType": "t3.nano"}},
         {"aws:RequestTag/team": ["a"], "ec2:InstanceType": ["m5.large"]}, False),
        # a key absent from the request: false, unless IfExists or a negated operator
        ({"StringEquals": {"aws:RequestTag/team": "a"}}, {}, False),
        ({"StringEqualsIfExists": {"aws:RequestTag/team": "a"}}, {}, True),
        ({"StringEqualsIfExists": {"aws:RequestTag/team": "a"}}, {"aws:RequestTag/team": ["b"]}, False),
        ({"StringNotEquals": {"aws:RequestTag/team": "a"}}, {}, True),
        ({"StringNotEquals": {"aws:RequestTag/team": "a"}}, {"aws:RequestTag/team": ["a"]}, False),
        # condition key names are case-insensitive
        ({"StringEquals": {"AWS:RequestTag/team": "a"}}, {"aws:requesttag/team": ["a"]}, True),
        ({"StringLike": {"s3:prefix": ["runs/*", ""]}}, {"s3:prefix": ["runs/x/result.json"]}, True),
        ({"StringLike": {"s3:prefix": "runs/*"}}, {"s3:prefix": ["scripts/x"]}, False),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/*"}},
         {"aws:SourceArn": ["arn:aws:events:us-east-1:000000000000:rule/r"]}, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": ["true"]}, False),
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": ["10"]}, True),
        ({"Null": {"aws:RequestTag/team": "true"}}, {}, True),
        ({"Null": {"aws:RequestTag/team": "false"}}, {}, False),
        # multivalued keys (aws:TagKeys): ForAllValues is true for an empty set, ForAnyValue false
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"]}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "c"]}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {}, True),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["c", "a"]}, True),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {}, False),
    ],
)
def test_conditions(condition: dict, context: dict, holds: bool) -> None:
    assert conditions_hold(condition, context) is holds


def test_an_operator_it_does_not_model_is_an_error_not_an_allow() -> None:
    with pytest.raises(ValueError, match="not modelled"):
        conditions_hold({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, {})


def test_a_functions_log_writes_are_authorized_as_cloudwatch_logs_names_them() -> None:
    """Lambda writes a function's output with its execution role: the managed basic execution policy allows it,
    and a policy scoped to the function's own group (`log-group:NAME:*`) allows that group only."""
    world = SimpleNamespace(region="us-east-1", account="000000000000")

    def checks(operation: str, group: str) -> list[Request]:
        request = {"__operation__": operation, "logGroupName": group, "logStreamName": "2026/12/01/[$LATEST]ab"}
        return [Request(ROLE, check.action, check.resource) for check in MODELS[("logs", operation)](request, world)]

    managed = json.loads((Path(policy_module.__file__).parent / "aws_managed_policies.json").read_text())
    basic = statements("basic", managed["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"])
    own = identity({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/launcher:*"})  # fmt: skip
    assert all(checks(operation, "/aws/lambda/launcher") for operation in ("CreateLogGroup", "PutLogEvents"))
    for operation in ("CreateLogGroup", "CreateLogStream", "PutLogEvents"):
        assert all(evaluate(r, basic).allowed for r in checks(operation, "/aws/lambda/launcher")), operation
    for operation in ("CreateLogStream", "PutLogEvents"):
        assert all(evaluate(r, own).allowed for r in checks(operation, "/aws/lambda/launcher")), operation
        assert not any(evaluate(r, own).allowed for r in checks(operation, "/aws/lambda/other")), operation


SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-AbC123"
KEY = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def secret_world(key: str | None) -> SimpleNamespace:
    """A world with one secret and one SecureString parameter, both under `key` (None: the AWS managed keys)."""
    return SimpleNamespace(
        region="us-east-1", account="000000000000",
        secret=lambda secret_id: (SECRET, key) if secret_id in (SECRET, "prod/db") else None,
        parameter_key=lambda name: key or "alias/aws/ssm" if name == "/prod/token" else None,
        customer_key_arn=lambda given: KEY if given == key and key else None,
    )  # fmt: skip


@pytest.mark.parametrize("key", [None, KEY])
def test_a_secret_under_a_customer_key_needs_kms_decrypt_through_the_service(key: str | None) -> None:
    """GetSecretValue and SecureString reads: the resource as IAM matches it (a secret's full ARN, whichever id is
    given), and kms:Decrypt through the service for a customer managed key only."""
    reads = identity({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": SECRET},
                     {"Effect": "Allow", "Action": "ssm:GetParameter",
                      "Resource": "arn:aws:ssm:us-east-1:000000000000:parameter/prod/*"})  # fmt: skip
    decrypts = identity({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY, "Condition": {"StringEquals": {
        "kms:ViaService": ["secretsmanager.us-east-1.amazonaws.com", "ssm.us-east-1.amazonaws.com"]}}})  # fmt: skip
    world = secret_world(key)
    requests = [
        *MODELS[("secretsmanager", "GetSecretValue")]({"__operation__": "GetSecretValue", "SecretId": "prod/db"},
                                                      world),
        *MODELS[("ssm", "GetParameter")]({"__operation__": "GetParameter", "WithDecryption": True,
                                          "Name": "arn:aws:ssm:us-east-1:000000000000:parameter/prod/token"}, world),
    ]  # fmt: skip
    assert [c.resource for c in requests if c.action != "kms:Decrypt"] == [
        SECRET, "arn:aws:ssm:us-east-1:000000000000:parameter/prod/token"]
    assert [c.action for c in requests].count("kms:Decrypt") == (2 if key else 0)

    def allowed(statements: list) -> bool:
        return all(evaluate(Request(ROLE, c.action, c.resource, dict(c.context)), statements).allowed for c in requests)

    assert allowed(reads) == (key is None)  # a customer key's secret needs its Decrypt too
    assert allowed(reads + decrypts)
