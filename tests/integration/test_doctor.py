"""`longtask doctor` on the local engine: green on the test stack, red where a run could not work."""

from __future__ import annotations

import json
from typing import Any

from longtask.client import LongTaskClient


def checks(result: Any) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in json.loads(result.stdout)}


def test_doctor_is_green_on_the_deployed_stack(client: LongTaskClient, longtask: Any) -> None:
    result = longtask("doctor")
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith(("✔", "?")) for line in lines), result.stdout
    assert "at this checkout's version" in lines[0]
    found = checks(longtask("doctor", "--json"))
    for name in ("image", "architecture of t3a.nano", "t3a.nano offered", "On-Demand vCPU quota for t3a.nano",
                 "Runs table", "artifact bucket"):  # fmt: skip
        assert found[name]["ok"] is True, found[name]
    assert any(name.startswith("route to S3 from subnet-") and c["ok"] for name, c in found.items())


def test_doctor_is_red_for_a_subnet_without_a_route(client: LongTaskClient, longtask: Any) -> None:
    ec2 = client.target.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    result = longtask("doctor", "--input", json.dumps({"subnetIds": [subnet]}))
    assert result.exit_code == 1
    assert f"✘ route to S3 from {subnet}: route table" in result.stdout and "no default route" in result.stdout
    assert f"✘ route to the internet from {subnet}" in result.stdout


def test_doctor_is_red_for_a_type_whose_architecture_is_not_the_images(longtask: Any) -> None:
    result = longtask("doctor", "--input", json.dumps({"instanceTypes": ["m7g.large"]}), "--json")
    assert result.exit_code == 1
    arm = checks(result)["architecture of m7g.large"]
    assert arm["ok"] is False and "not the image's x86_64" in arm["detail"], arm


def test_doctor_is_red_for_a_quota_too_small_and_says_which(longtask: Any) -> None:
    """The engine's quotas (data/quotas.json) give P instances 0 vCPUs, as a new account has."""
    result = longtask("doctor", "--input", json.dumps({"instanceTypes": ["p5.48xlarge"], "spot": True}), "--json")
    assert result.exit_code == 1
    quota = checks(result)["On-Demand vCPU quota for p5.48xlarge"]
    assert quota["ok"] is False and "needs 192" in quota["detail"] and "L-417A185B" in quota["detail"], quota
    assert "0 of 0 vCPUs in use" in quota["detail"]  # what the account's instances use now, beside the quota
