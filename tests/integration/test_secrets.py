"""Secrets on the engine: the instance reads a Secrets Manager secret (one under a customer managed key, one JSON
key) and a SecureString parameter with its own role, exports them to the script, and masks them in the log, the
live log chunks and the record's tail; a secret the stack does not grant is refused before anything launches; one
that cannot be read ends the run with LongTask.SecretUnavailable before the script runs."""

from __future__ import annotations

import json
import secrets as randomness
from collections.abc import Iterator

import pytest

from longtask.client import LongTaskClient

from .engine_session import STACK
from .support import assert_final, instances_of

TRICKY = "p@ss$(rm -rf /)`x`'\"\\.*+?[a-z]{2}|^$ 100%"  # shell and regex metacharacters


@pytest.fixture
def secret_arns(client: LongTaskClient) -> Iterator[dict[str, str]]:
    """A plain secret, a JSON secret under a customer managed key, and a SecureString parameter, all granted."""
    manager, ssm = client.target.client("secretsmanager"), client.target.client("ssm")
    suffix = randomness.token_hex(4)
    key = client.target.client("kms").create_key(Description="longtask-it secrets")["KeyMetadata"]["Arn"]
    plain = manager.create_secret(Name=f"{STACK}/plain-{suffix}", SecretString=TRICKY)["ARN"]
    document = manager.create_secret(Name=f"{STACK}/db-{suffix}", KmsKeyId=key,
                                     SecretString=json.dumps({"user": "app-user", "password": "s3cr3t-Pw"}))["ARN"]
    parameter = f"/{STACK}/token-{suffix}"
    ssm.put_parameter(Name=parameter, Value="tok-123456", Type="SecureString")
    parameter_arn = f"arn:aws:ssm:us-east-1:000000000000:parameter{parameter}"
    yield {"plain": plain, "document": document, "parameter": parameter_arn}
    for arn in (plain, document):
        manager.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    ssm.delete_parameter(Name=parameter)


def s3_text(client: LongTaskClient, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return client.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def live_chunks(client: LongTaskClient, run_id: str) -> str:
    listed = client.s3.list_objects_v2(Bucket=client.stack.bucket, Prefix=f"runs/{run_id}/live-log/")
    return "".join(s3_text(client, f"s3://{client.stack.bucket}/{o['Key']}") for o in listed.get("Contents", []))


def test_a_run_reads_its_secrets_into_its_env_and_its_log_masks_them(client: LongTaskClient,
                                                                     secret_arns: dict[str, str]) -> None:  # fmt: skip
    script = ('echo "plain: $PLAIN"\n'
              'printf "password: %s" "${PASSWORD:0:4}"; sleep 5; echo "${PASSWORD:4}"\n'  # across live chunks
              'echo "token: $TOKEN and user app-user"\n'  # a string inside DB, the JSON secret
              '[ "$PLAIN" = "$EXPECTED" ] && echo "the value is whole"\n')  # fmt: skip
    run_id = client.start({"script": script, "env": {"EXPECTED": TRICKY},
                           "secrets": {"PLAIN": secret_arns["plain"], "PASSWORD": secret_arns["document"] + ":password",
                                       "TOKEN": secret_arns["parameter"], "DB": secret_arns["document"]}})  # fmt: skip
    record = assert_final(client, run_id, "SUCCEEDED")
    log = s3_text(client, record["logUri"])
    assert "plain: ***\npassword: ***\ntoken: *** and user ***\nthe value is whole\n" in log, log
    assert "longtask: read the secrets PLAIN PASSWORD TOKEN DB" in log
    chunks = live_chunks(client, run_id)
    assert "password: " in chunks
    for value in (TRICKY, "s3cr3t-Pw", "s3cr", "tok-123456", "app-user"):
        assert value not in log and value not in chunks and value not in record["logTail"]


def test_a_secret_the_stack_does_not_grant_is_refused_before_launch(client: LongTaskClient) -> None:
    elsewhere = "arn:aws:secretsmanager:us-east-1:000000000000:secret:other/db-AbC123"
    run_id = client.start({"script": "echo never\n", "secrets": {"DB": elsewhere}})
    record = assert_final(client, run_id, "INVALID_INPUT")
    assert f"secrets.DB: the instances may not read {elsewhere}" in record["reason"]
    assert instances_of(client, run_id) == []


def test_a_secret_that_cannot_be_read_ends_the_run_before_the_script(client: LongTaskClient,
                                                                     secret_arns: dict[str, str]) -> None:  # fmt: skip
    gone = secret_arns["plain"]
    client.target.client("secretsmanager").delete_secret(SecretId=gone, ForceDeleteWithoutRecovery=True)
    secret_arns["plain"] = secret_arns["document"]  # the fixture deletes the rest
    run_id = client.start({"script": "echo the script ran\n", "secrets": {"TOKEN": secret_arns["parameter"],
                                                                            "GONE": gone}})  # fmt: skip
    record = assert_final(client, run_id, "FAILED")
    assert record["reason"].startswith(f"secret GONE ({gone}) could not be read: "), record["reason"]
    assert "ResourceNotFoundException" in record["reason"]
    assert "the script ran" not in s3_text(client, record["logUri"])
    assert client.execution(run_id)["error"] == "LongTask.SecretUnavailable"


