"""A run's secrets: the names and references the input may give, and the launcher's refusal, before anything
launches, of a secret in another Region or outside what the stack grants its instances."""

from __future__ import annotations

import re

import pytest
from common.run_input import parse_run_input
from common.secret_refs import check_secrets, parse_secret_ref, refs_line
from launcher.errors import InvalidInput
from launcher.userdata import BootstrapConfig, render

ACCOUNT = "123456789012"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-AbC123"
PARAMETER = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/prod/api/token"
GRANTED = [f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/*",
           f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/prod/*"]


@pytest.mark.parametrize(("raw", "named"), [
    ({"DB-PASSWORD": SECRET}, "secrets.DB-PASSWORD.[key]: String should match pattern"),
    ({"LONGTASK_TOKEN": SECRET}, "secrets names ['LONGTASK_TOKEN'] use the reserved prefix LONGTASK_"),
    ({"TOKEN": "prod/db"}, "not a Secrets Manager secret ARN"),
    ({"TOKEN": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db"}, "not a Secrets Manager secret ARN"),
    ({"TOKEN": "arn:aws:s3:::bucket/key"}, "not a Secrets Manager secret ARN"),
])  # fmt: skip
def test_bad_secret_names_and_references_are_named(raw: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(named)):
        parse_run_input({"script": "x", "secrets": raw})


def test_a_variable_in_both_env_and_secrets_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"\['TOKEN'\] are in both env and secrets"):
        parse_run_input({"script": "x", "env": {"TOKEN": "a"}, "secrets": {"TOKEN": SECRET}})


def test_a_reference_names_its_arn_region_and_json_key() -> None:
    assert parse_secret_ref(SECRET + ":password") == parse_secret_ref(SECRET).__class__(SECRET, "us-east-1",
                                                                                          "password")  # fmt: skip
    assert parse_secret_ref(PARAMETER).arn == PARAMETER
    assert parse_secret_ref(PARAMETER).json_key is None


def test_granted_references_in_the_stacks_region_pass() -> None:
    check_secrets({"DB": SECRET + ":password", "TOKEN": PARAMETER}, "us-east-1", GRANTED)


@pytest.mark.parametrize(("ref", "named"), [
    (SECRET.replace("us-east-1", "eu-west-1"),
     "is in eu-west-1; the instances read secrets in the stack's Region, us-east-1"),
    (SECRET.replace("prod/db", "staging/db"), f"the instances may not read arn:aws:secretsmanager:us-east-1:{ACCOUNT}:"
                                              "secret:staging/db-AbC123; the stack grants"),
    (PARAMETER.replace("prod", "other"), "may not read"),
])  # fmt: skip
def test_a_secret_elsewhere_or_not_granted_is_refused_naming_it(ref: str, named: str) -> None:
    with pytest.raises(InvalidInput, match="secrets.TOKEN: .*" + re.escape(named)):
        check_secrets({"TOKEN": ref}, "us-east-1", GRANTED)


def test_with_nothing_granted_the_refusal_says_what_to_set() -> None:
    with pytest.raises(InvalidInput, match="SecretArns and SecretParameterArns are empty"):
        check_secrets({"TOKEN": SECRET}, "us-east-1", [])


def test_iam_wildcards_match_as_iam_does() -> None:
    check_secrets({"T": SECRET}, "us-east-1", [f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-??????"])
    with pytest.raises(InvalidInput):  # a '.' in a pattern is a dot, not any character
        check_secrets({"T": SECRET}, "us-east-1", [f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod.db-*"])


def test_user_data_carries_the_references_and_never_a_value() -> None:
    config = BootstrapConfig("run-1", "bucket", "runs/run-1", 0, {}, secret_refs=refs_line({"DB": SECRET}))
    user_data = render(config, inline_script="echo $DB\n")
    assert f"export LONGTASK_SECRET_REFS=DB={SECRET}\n" in user_data
