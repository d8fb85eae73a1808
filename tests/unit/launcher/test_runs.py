"""start_run against moto: what is launched, what is staged, and what launches nothing."""

from __future__ import annotations

import gzip
import re
import secrets
from datetime import datetime
from typing import Any

import pytest
from common.record import to_item
from launcher.errors import InvalidInput
from launcher.runs import Attempt, Execution, start_run
from launcher.settings import Settings
from launcher.watch_plan import MAX_WINDOWS

from ..conftest import BUCKET, instances

EXECUTION = Execution(arn="arn:aws:states:us-east-1:123456789012:execution:longtask:run-1", name="run-1")


def start(aws: dict[str, Any], raw: Any, execution: Execution = EXECUTION) -> dict[str, Any]:
    return start_run(raw, execution, Settings.from_environment(), aws["ec2"], aws["s3"])["launch"]


def user_data_of(ec2: Any, instance_id: str) -> str:
    """The user data as cloud-init runs it (EC2 gets it gzip-compressed)."""
    import base64
    import gzip

    value = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")["UserData"]["Value"]
    return gzip.decompress(base64.b64decode(value)).decode()


def test_a_run_launches_one_tagged_instance(aws: dict[str, Any]) -> None:
    launch = start(aws, {"script": "echo hi", "tags": {"team": "builds"}, "timeoutSeconds": 600})
    (instance,) = instances(aws["ec2"])
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert launch["instanceId"] == instance["InstanceId"]
    assert tags["longtask:run-id"] == "run-1"
    assert tags["longtask:execution-arn"] == EXECUTION.arn
    assert tags["longtask:deadline"] == launch["deadline"]
    assert tags["longtask:stack"] == "longtask-test"
    assert tags["team"] == "builds"
    elapsed = datetime.fromisoformat(launch["deadline"]) - datetime.fromisoformat(launch["launchedAt"])
    assert elapsed.total_seconds() == 600
    assert launch["logUri"] == f"s3://{BUCKET}/runs/run-1/cloud-init-output.log"
    assert launch["resultUri"] == f"s3://{BUCKET}/runs/run-1/result.json"
    assert launch["artifactsUri"] == f"s3://{BUCKET}/runs/run-1/artifacts/"


def test_stack_defaults_apply(aws: dict[str, Any]) -> None:
    launch = start(aws, {"script": "echo hi"})
    assert launch["instanceType"] == "t3a.nano"
    assert launch["windows"][0]["seconds"] == 30
    assert max(w["seconds"] for w in launch["windows"]) <= 3600  # the stack's DefaultMaxPollSeconds
    assert launch["windowCount"] == len(launch["windows"])
    (instance,) = instances(aws["ec2"])
    assert instance["ImageId"] == "ami-12345678"


def test_env_is_exported_in_the_user_data(aws: dict[str, Any]) -> None:
    launch = start(aws, {"script": "echo $GREETING", "env": {"GREETING": "hello"}})
    assert "export GREETING=hello" in user_data_of(aws["ec2"], launch["instanceId"])


def test_a_script_too_big_for_user_data_is_staged_in_s3(aws: dict[str, Any]) -> None:
    script = "".join(f"echo {secrets.token_hex(16)}\n" for _ in range(700))  # 27 KB that barely compress
    launch = start(aws, {"script": script})
    staged = aws["s3"].get_object(Bucket=BUCKET, Key="runs/run-1/script.sh")["Body"].read().decode()
    user_data = user_data_of(aws["ec2"], launch["instanceId"])
    assert staged == script
    assert f"export LONGTASK_SCRIPT_URI=s3://{BUCKET}/runs/run-1/script.sh" in user_data
    assert len(gzip.compress(user_data.encode())) <= 16 * 1024


def test_a_script_that_fits_is_inlined_and_not_staged(aws: dict[str, Any]) -> None:
    launch = start(aws, {"script": "echo small"})
    assert "echo small" in user_data_of(aws["ec2"], launch["instanceId"])
    assert aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix="runs/run-1/").get("KeyCount", 0) == 0


def test_huge_env_is_invalid_input(aws: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="env: the variables make the user data larger than 16 KB"):
        start(aws, {"script": "true", "env": {"BIG": secrets.token_hex(17000)}})
    assert instances(aws["ec2"]) == []


def test_script_s3_uri_must_exist(aws: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match=f"scriptS3Uri: cannot read s3://{BUCKET}/scripts/missing.sh"):
        start(aws, {"scriptS3Uri": f"s3://{BUCKET}/scripts/missing.sh"})
    assert instances(aws["ec2"]) == []


def test_script_s3_uri_is_fetched_by_the_bootstrap(aws: dict[str, Any]) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key="scripts/job.sh", Body=b"echo job")
    launch = start(aws, {"scriptS3Uri": f"s3://{BUCKET}/scripts/job.sh"})
    assert f"export LONGTASK_SCRIPT_URI=s3://{BUCKET}/scripts/job.sh" in user_data_of(aws["ec2"], launch["instanceId"])


@pytest.mark.parametrize(
    "secret",
    [
        "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    ],
)
def test_a_script_with_a_secret_is_refused(aws: dict[str, Any], secret: str) -> None:
    with pytest.raises(InvalidInput, match="Secrets Manager or SSM Parameter Store"):
        start(aws, {"script": f"echo start\n{secret}\n"})
    assert instances(aws["ec2"]) == []


def test_invalid_input_launches_nothing(aws: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        start(aws, {"script": "true", "instanceTypes": ["not a type"]})
    assert instances(aws["ec2"]) == []


def test_a_retried_launch_reuses_the_instance_already_started(aws: dict[str, Any]) -> None:
    first = start(aws, {"script": "echo hi"})
    second = start(aws, {"script": "echo hi"})
    assert second["instanceId"] == first["instanceId"]
    assert len(instances(aws["ec2"])) == 1


def test_another_execution_gets_its_own_instance(aws: dict[str, Any]) -> None:
    start(aws, {"script": "echo hi"})
    start(aws, {"script": "echo hi"}, Execution(arn=EXECUTION.arn.replace("run-1", "run-2"), name="run-2"))
    assert len(instances(aws["ec2"])) == 2


def test_a_relaunch_is_a_new_instance_with_its_own_client_token(aws: dict[str, Any]) -> None:
    first = start(aws, {"script": "echo hi", "retries": 1})
    aws["ec2"].terminate_instances(InstanceIds=[first["instanceId"]])
    second = start_run({"script": "echo hi", "retries": 1}, EXECUTION, Settings.from_environment(), aws["ec2"],
                       aws["s3"], Attempt(1))["launch"]  # fmt: skip
    assert second["instanceId"] != first["instanceId"]
    assert (second["attempt"], second["retries"]) == (1, 1)


def test_a_poll_ceiling_too_low_for_the_timeout_is_invalid(aws: dict[str, Any]) -> None:
    raw = {"script": "true", "timeoutSeconds": 364 * 86400, "pollSeconds": 1, "maxPollSeconds": 2}
    with pytest.raises(InvalidInput, match=r"maxPollSeconds: 2 is too small for timeoutSeconds 31449600 with 0 "
                                           r"retries .*use at least 22$"):  # fmt: skip
        start(aws, raw)
    assert instances(aws["ec2"]) == []


def test_the_poll_ceiling_keeps_every_attempts_windows_in_one_history(aws: dict[str, Any]) -> None:
    """Each attempt has its windows in the same parent execution: five retries need a ceiling six times as high."""
    raw = {"script": "true", "timeoutSeconds": 30 * 86400, "pollSeconds": 1, "maxPollSeconds": 2}
    assert start(aws, raw)["windowCount"] <= MAX_WINDOWS  # one attempt: fits
    with pytest.raises(InvalidInput, match=r"maxPollSeconds: 2 is too small .* with 5 retries .*use at least 6$"):
        start(aws, {**raw, "retries": 5})


def test_spot_is_recorded(aws: dict[str, Any]) -> None:
    assert start(aws, {"script": "true", "spot": True})["spot"] is True


@pytest.mark.parametrize(("interruptions", "after", "spot"), [(0, None, True), (1, None, False), (1, 2, True),
                                                              (2, 2, False)])  # fmt: skip
def test_after_enough_spot_interruptions_attempts_run_on_demand(aws: dict[str, Any], interruptions: int,
                                                                after: int | None, spot: bool) -> None:  # fmt: skip
    raw = {"script": "true", "spot": True, "retries": 3, **({"onDemandAfterInterruptions": after} if after else {})}
    attempt = Attempt(number=interruptions, interruptions=interruptions)
    launch = start_run(raw, EXECUTION, Settings.from_environment(), aws["ec2"], aws["s3"], attempt)["launch"]
    assert (launch["spot"], launch["interruptions"]) == (spot, interruptions)
    (instance,) = instances(aws["ec2"])
    assert (instance.get("InstanceLifecycle") == "spot") is spot


@pytest.mark.parametrize("script", ["", "   \n\t\n"])
def test_an_empty_script_is_invalid_input_and_launches_nothing(aws: dict[str, Any], script: str) -> None:
    with pytest.raises(InvalidInput, match="script"):
        start(aws, {"script": script})
    assert instances(aws["ec2"]) == []


@pytest.mark.parametrize(("timeout", "retries"), [(365 * 24 * 3600, 0), (200 * 24 * 3600, 1)])
def test_a_run_that_could_outlive_its_execution_is_refused(aws: dict[str, Any], timeout: int, retries: int) -> None:
    with pytest.raises(InvalidInput, match=r"timeoutSeconds: .*at most one year.*use at most"):
        start(aws, {"script": "echo hi", "timeoutSeconds": timeout, "retries": retries, "maxPollSeconds": 3600})
    assert instances(aws["ec2"]) == []


def test_the_retry_backoff_counts_in_the_year_a_run_may_last(aws: dict[str, Any]) -> None:
    from common.run_input import ONE_YEAR_SECONDS
    from launcher.runs import ATTEMPT_OVERHEAD_SECONDS

    backoff = 3600 * (2**5 - 1)  # before relaunches 1..5: 1, 2, 4, 8 and 16 hours
    timeout = (ONE_YEAR_SECONDS - backoff) // 6 - ATTEMPT_OVERHEAD_SECONDS + 1
    run_input = {"script": "echo hi", "timeoutSeconds": timeout, "retries": 5, "maxPollSeconds": 3600,
                 "maxQueueSeconds": 0}  # fmt: skip
    assert start(aws, run_input)["retries"] == 5  # fits without backoff
    with pytest.raises(InvalidInput, match=rf"plus {backoff} s of retry backoff and up to 0 s queued"):
        start(aws, {**run_input, "retryBackoffSeconds": 3600})
    queued = rf"up to {backoff} s queued \(maxQueueSeconds\)\); use at most {timeout - 1}"
    with pytest.raises(InvalidInput, match=queued):
        start(aws, {**run_input, "maxQueueSeconds": backoff})  # time queued counts as backoff does


def test_watcher_children_are_named_within_80_characters_whatever_the_run_id() -> None:
    from launcher.runs import watch_name

    assert watch_name("20261128-160903-143f6b") == "20261128-160903-143f6b"
    for run_id in ("r" * 68, "r" * 69, "x" * 80):
        prefix = watch_name(run_id)
        assert len(f"{prefix}-a5-w1000-r8") <= 80
        assert re.fullmatch(r"[A-Za-z0-9_-]+", prefix)
    assert watch_name("a" * 80) != watch_name("a" * 79 + "b")  # long names that differ stay apart


def test_a_retried_launch_sends_ec2_the_same_request(aws: dict[str, Any]) -> None:
    """Step Functions retries the launcher with the same payload (the same state entry time): the user data,
    the deadline and the tags must not change, or EC2 refuses the ClientToken's request as changed."""
    sent: list[dict[str, Any]] = []
    aws["ec2"].meta.events.register("provide-client-params.ec2.RunInstances", lambda params, **_: sent.append(params))
    entered = datetime.fromisoformat("2026-11-28T16:09:05.123Z")
    for _ in range(2):
        for instance in instances(aws["ec2"]):  # the first attempt's instance is gone: the retry launches again
            aws["ec2"].terminate_instances(InstanceIds=[instance["InstanceId"]])
        settings = Settings.from_environment()
        start_run({"script": "echo hi"}, EXECUTION, settings, aws["ec2"], aws["s3"], Attempt(), entered)
    assert len(sent) == 2 and sent[0] == sent[1]  # the whole RunInstances request, user data included


def test_the_record_announced_is_the_item_written(aws: dict[str, Any]) -> None:
    started = start_run({"script": "true"}, EXECUTION, Settings.from_environment(), aws["ec2"], aws["s3"])
    assert started["record"]["status"] == "RUNNING" and started["record"]["finishedAt"] is None
    assert started["record"]["instanceId"] == started["launch"]["instanceId"]
    assert started["item"] == to_item(started["record"])


def test_a_script_the_client_staged_is_read_back_and_checked_as_an_inline_one(aws: dict[str, Any]) -> None:
    staged = f"s3://{BUCKET}/runs/run-1/script.sh"
    aws["s3"].put_object(Bucket=BUCKET, Key="runs/run-1/script.sh", Body=b"echo staged\n")
    launch = start(aws, {"scriptS3Uri": staged})
    user_data = user_data_of(aws["ec2"], launch["instanceId"])
    assert "echo staged" in user_data and "export LONGTASK_SCRIPT_URI" not in user_data  # it fits: inlined
    aws["s3"].put_object(Bucket=BUCKET, Key="runs/run-1/script.sh",
                         Body=b"export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n")  # fmt: skip
    with pytest.raises(InvalidInput, match="script: it contains what looks like"):
        start(aws, {"scriptS3Uri": staged}, Execution(EXECUTION.arn + "-2", "run-1"))
