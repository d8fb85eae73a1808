"""Bad input is refused with a message naming the field and what is wrong."""

from __future__ import annotations

import pytest
from common.run_input import parse_run_input
from launcher.errors import InvalidInput


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({}, "give exactly one of 'script'"),
        ({"script": "x", "scriptS3Uri": "s3://bucket/key"}, "give exactly one of 'script'"),
        ({"script": ""}, "script: String should have at least 1 character"),
        ({"script": "x", "stallSeconds": 0}, "stallSeconds: Input should be greater than or equal to 1"),
        ({"script": "x", "stallSeconds": 5, "onStall": "page"}, "onStall: Input should be 'notify', 'fail' or 'retry'"),
        ({"script": "x", "onStall": "fail"}, "onStall 'fail' acts on a stall; set stallSeconds too"),
        ({"script": "x", "env": {"PAD": "x" * 131_068}}, "env ['PAD']: over the 131,072 bytes Linux passes"),
        ({"script": "x", "stallSeconds": 5, "onStall": "retry"}, "onStall 'retry' relaunches within retries"),
        ({"scriptS3Uri": "https://bucket/key"}, "scriptS3Uri: String should match pattern"),
        ({"script": "x", "instanceTypes": ["t3 nano"]}, "instanceTypes.0: String should match pattern"),
        ({"script": "x", "instanceTypes": []}, "instanceTypes: List should have at least 1 item"),
        ({"script": "x", "subnetIds": ["sub-1"]}, "subnetIds.0: String should match pattern"),
        ({"script": "x", "imageId": "ubuntu"}, "imageId: String should match pattern"),
        ({"script": "x", "timeoutSeconds": 0}, "timeoutSeconds: Input should be greater than or equal to 1"),
        ({"script": "x", "timeoutSeconds": 10**9}, "timeoutSeconds: Input should be less than or equal to 31536000"),
        ({"script": "x", "timeoutSeconds": "soon"}, "timeoutSeconds: Input should be a valid integer"),
        ({"script": "x", "pollSeconds": 0}, "pollSeconds: Input should be greater than or equal to 1"),
        ({"script": "x", "env": {"1BAD": "v"}}, "env.1BAD.[key]: String should match pattern"),
        ({"script": "x", "env": {"LONGTASK_RUN_ID": "v"}}, "reserved prefix LONGTASK_"),
        ({"script": "x", "env": {"A": 1}}, "env.A: Input should be a valid string"),
        ({"script": "x", "tags": {"longtask:run-id": "v"}}, "use a reserved prefix"),
        ({"script": "x", "tags": {"aws:x": "v"}}, "use a reserved prefix"),
        ({"script": "x", "shell": "zsh"}, "shell: Extra inputs are not permitted"),
        ({"script": "x", "retries": 9}, "retries: Input should be less than or equal to 5"),
        ({"script": "x", "spot": "maybe"}, "spot: Input should be a valid boolean"),
        ({"script": "x", "retryOnExitCodes": [75]}, "retryOnExitCodes relaunches within retries; set retries"),
        ({"script": "x", "retries": 1, "retryOnExitCodes": [0]}, "retryOnExitCodes.0: Input should be greater"),
        ({"script": "x", "retries": 1, "retryOnExitCodes": [256]}, "retryOnExitCodes.0: Input should be less"),
        ({"script": "x", "retryBackoffSeconds": -1}, "retryBackoffSeconds: Input should be greater than or equal"),
        ({"script": "x", "pollSeconds": 60, "maxPollSeconds": 30}, "maxPollSeconds must be at least pollSeconds"),
        ({"script": "x", "onDemandAfterInterruptions": 0}, "onDemandAfterInterruptions: Input should be greater"),
        ({"script": "x", "maxCostUsd": 0}, "maxCostUsd: Input should be greater than 0"),
        ({"script": "x", "maxCostUsd": -5}, "maxCostUsd: Input should be greater than 0"),
    ],
)
def test_bad_input_is_named(raw: dict, named: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_run_input(raw)
    assert named in str(raised.value)


@pytest.mark.parametrize("raw", [None, "echo hi", ["echo hi"], 3])
def test_input_that_is_not_an_object_is_refused(raw: object) -> None:
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        parse_run_input(raw)


def test_every_field_is_read_in_camel_case() -> None:
    parsed = parse_run_input(
        {
            "script": "echo hi",
            "instanceTypes": ["c7i.large", "m7i.large"],
            "subnetIds": ["subnet-0123456789abcdef0"],
            "imageId": "ami-0123456789abcdef0",
            "timeoutSeconds": 3600,
            "pollSeconds": 60,
            "env": {"REPO_URL": "https://example.com/repo.git"},
            "tags": {"team": "builds"},
            "associatePublicIpAddress": True,
        }
    )
    assert parsed.instance_types == ["c7i.large", "m7i.large"]
    assert parsed.subnet_ids == ["subnet-0123456789abcdef0"]
    assert (parsed.timeout_seconds, parsed.poll_seconds) == (3600, 60)
    assert parsed.env == {"REPO_URL": "https://example.com/repo.git"}
    assert parsed.associate_public_ip_address is True


def test_the_parent_execution_link_is_accepted() -> None:
    parent = "arn:aws:states:us-east-1:123456789012:execution:parent:p-1"
    parsed = parse_run_input({"script": "true", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": parent})
    assert parsed.started_by_execution_id == parent
