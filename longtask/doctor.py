"""`longtask doctor`: a preflight of a stack and its account, one check at a time, each saying what to do.

What is checked is what a run will use: the stack's defaults, or a run's own input over them. The route check is
the launcher's (common/network.py): one model of what reaches S3 and the internet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .client import Target
from .common.capacity import Capacity
from .common.network import default_subnet, described_subnets, internet_reach, s3_reach, ssm_reach
from .common.vcpu_quotas import quota_codes
from .deployment import deployed_digest
from .sessions import PLUGIN, PLUGIN_INSTALL, plugin_version
from .sources import app_dir, source_digest

SPOT_ROLE = "AWSServiceRoleForEC2Spot"
READY = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


@dataclass(frozen=True)
class Check:
    """One check: passed (True), failed (False) or could not tell (None, which does not fail the doctor)."""

    name: str
    ok: bool | None
    detail: str


@dataclass(frozen=True)
class Plan:
    """What a run would use: instance types, subnets, image, public IP, Spot."""

    instance_types: list[str]
    subnet_ids: list[str]
    image: str
    security_group_ids: list[str]
    public_ip: bool | None
    spot: bool


class Doctor:
    """The checks of one stack (and of a run input over its defaults)."""

    def __init__(self, target: Target, run_input: dict[str, Any] | None = None) -> None:
        self.target = target
        self.run_input = run_input or {}
        self.cloudformation = target.client("cloudformation")
        self.ec2 = target.client("ec2")
        self.stack: dict[str, Any] = {}
        self._described: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # subnets by the ids asked for (_subnets)

    def checks(self) -> Iterator[Check]:
        """Each check in turn; without a deployed stack nothing else can be checked."""
        yield from self._each("stack", lambda: [self.check_stack()])
        if self.stack.get("StackStatus") not in READY:
            return
        plan = self.plan()
        for name, check in (("network", self.check_network), ("image", self.check_image),
                            ("offerings", self.check_offerings), ("quota", self.check_quota),
                            ("spot role", self.check_spot_role), ("storage", self.check_storage)):  # fmt: skip
            yield from self._each(name, lambda check=check: check(plan))
        yield from self.check_session_plugin()

    @staticmethod
    def _each(name: str, checks: Callable[[], Iterable[Check]]) -> list[Check]:
        """The checks, or one failed check naming the AWS call that failed (a caller without the permission)."""
        try:
            return list(checks())
        except (ClientError, BotoCoreError) as error:
            return [Check(name, False, f"{error}; the caller needs read access to it")]

    def check_stack(self) -> Check:
        name = self.target.stack_name
        try:
            self.stack = self.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError:
            return Check("stack", False, f"stack {name} is not deployed; deploy it (README, Deploy to AWS)")
        status = self.stack["StackStatus"]
        if status not in READY:
            return Check("stack", False, f"stack {name} is {status}; fix what its events say and deploy again")
        deployed = deployed_digest(self.cloudformation, name)
        wanted = source_digest(app_dir())
        if deployed is None:
            return Check("stack", None, f"stack {name} is {status}, deployed without a version (sam deploy?)")
        if deployed != wanted:
            return Check("stack", False, f"stack {name} is at version {deployed}, this checkout {wanted}; deploy it")
        return Check("stack", True, f"stack {name} is {status} at this checkout's version ({wanted})")

    def plan(self) -> Plan:
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in self.stack.get("Parameters", [])}
        return Plan(
            instance_types=self.run_input.get("instanceTypes") or _split(parameters.get("InstanceTypes", "")),
            subnet_ids=self.run_input.get("subnetIds") or _split(parameters.get("SubnetIds", "")),
            image=self.run_input.get("imageId") or parameters.get("ImageId", ""),
            security_group_ids=self._launch_security_groups(),
            public_ip=self.run_input.get("associatePublicIpAddress"),
            spot=bool(self.run_input.get("spot")),
        )

    def _subnets(self, plan: Plan) -> list[dict[str, Any]]:
        """The plan's subnets (the default one when none is given) as EC2 describes them, described once for every
        check; [] when none is given and there is no default VPC."""
        asked = tuple(plan.subnet_ids)
        if asked not in self._described:
            if asked:
                self._described[asked] = described_subnets(self.ec2, plan.subnet_ids)
            else:
                default = default_subnet(self.ec2)
                self._described[asked] = [default] if default else []
        return self._described[asked]

    def check_network(self, plan: Plan) -> Iterator[Check]:
        subnets = self._subnets(plan)
        if not subnets:
            yield Check("network", False, "no subnets configured and no default VPC; set the stack's SubnetIds")
            return
        for subnet in subnets:
            subnet_id = subnet["SubnetId"]
            s3 = s3_reach(self.ec2, subnet, plan.security_group_ids, plan.public_ip)
            yield Check(f"route to S3 from {subnet_id}", None if s3.unchecked else s3.reachable, s3.note)
            internet = internet_reach(self.ec2, subnet, plan.public_ip)
            yield Check(f"route to the internet from {subnet_id}", None if internet.unchecked else internet.reachable,
                        internet.note + ("" if internet.reachable else " (scripts that install packages need it)"))
            if self._parameter("AllowRunCommandsAndSessions") == "true":  # what `longtask exec` needs
                ssm = ssm_reach(self.ec2, subnet, plan.public_ip)
                yield Check(f"route to SSM from {subnet_id}", None if ssm.unchecked else ssm.reachable,
                            ssm.note + ("" if ssm.reachable else " (`longtask exec` needs it)"))

    def check_image(self, plan: Plan) -> Iterator[Check]:
        image_id = self._resolve_image(plan.image)
        if image_id is None:
            yield Check("image", False, f"SSM parameter {plan.image} does not resolve in {self._region()}; "
                                        "set the stack's ImageId to an AMI id or a parameter of this region")
            return
        images = self.ec2.describe_images(ImageIds=[image_id])["Images"]
        if not images:
            yield Check("image", False, f"image {image_id} does not exist in {self._region()}; set ImageId")
            return
        architecture = images[0].get("Architecture", "x86_64")
        yield Check("image", True, f"{plan.image} is {image_id} ({architecture})")
        for instance_type in self._types(plan.instance_types):
            supported = instance_type["ProcessorInfo"]["SupportedArchitectures"]
            name = instance_type["InstanceType"]
            fits = architecture in supported
            fix = "" if fits else f", not the image's {architecture}; choose a {architecture} type or another image"
            yield Check(f"architecture of {name}", fits, f"{name} runs {', '.join(supported)}{fix}")

    def check_offerings(self, plan: Plan) -> Iterator[Check]:
        # no subnet given and no default VPC: the zones of every subnet of the account (a DescribeSubnets of none)
        subnets = self._subnets(plan) or self.ec2.describe_subnets()["Subnets"]
        zones = sorted({s["AvailabilityZone"] for s in subnets})
        offered = {(o["InstanceType"], o["Location"]) for page in self.ec2.get_paginator(
            "describe_instance_type_offerings").paginate(LocationType="availability-zone", Filters=[
                {"Name": "instance-type", "Values": plan.instance_types}, {"Name": "location", "Values": zones}])
            for o in page["InstanceTypeOfferings"]}  # fmt: skip
        for name in plan.instance_types:
            where = [zone for zone in zones if (name, zone) in offered]
            detail = f"in {', '.join(where)}" if where else (
                f"in none of the subnets' zones ({', '.join(zones)}); choose another type or subnet")
            yield Check(f"{name} offered", bool(where), detail)

    def check_quota(self, plan: Plan) -> Iterator[Check]:
        """Each type's vCPU quota (on demand, and Spot when asked for) against one instance of it, with the vCPUs
        the account's instances use now (the launcher's own view: common/capacity.py)."""
        quotas = self.target.client("service-quotas")
        capacity = Capacity(self.ec2, quotas)
        for instance_type in self._types(plan.instance_types):
            name, vcpus = instance_type["InstanceType"], instance_type["VCpuInfo"]["DefaultVCpus"]
            codes = quota_codes(name)
            if codes is None:
                yield Check(f"vCPU quota for {name}", None, "its family's quota is not known to the doctor")
                continue
            for market, code in zip(("On-Demand", "Spot"), codes, strict=True):
                if market == "Spot" and not plan.spot:
                    continue
                quota = quotas.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]
                fits = quota["Value"] >= vcpus
                used = capacity.in_use(name, market == "Spot")
                detail = f"{quota['QuotaName']}: {used} of {quota['Value']:g} vCPUs in use, {name} needs {vcpus}"
                if fits and used + vcpus > quota["Value"]:
                    detail += "; runs wait QUEUED until some end"
                yield Check(f"{market} vCPU quota for {name}", fits,
                            detail + ("" if fits else f"; ask for more (Service Quotas, {code})"))

    def check_spot_role(self, plan: Plan) -> Iterator[Check]:
        if not plan.spot:
            return
        try:
            self.target.client("iam").get_role(RoleName=SPOT_ROLE)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchEntity":
                raise
            yield Check("Spot service-linked role", None, f"{SPOT_ROLE} does not exist yet; the first Spot run "
                                                          "creates it (the launcher may, once)")  # fmt: skip
            return
        yield Check("Spot service-linked role", True, f"{SPOT_ROLE} exists")

    def check_storage(self, plan: Plan) -> Iterator[Check]:
        outputs = {o["OutputKey"]: o["OutputValue"] for o in self.stack.get("Outputs", [])}
        table = self.target.client("dynamodb").describe_table(TableName=outputs["RunsTableName"])["Table"]
        status = table["TableStatus"]
        yield Check("Runs table", status == "ACTIVE", f"{outputs['RunsTableName']} is {status}")
        self.target.client("s3").head_bucket(Bucket=outputs["ArtifactBucketName"])
        yield Check("artifact bucket", True, f"{outputs['ArtifactBucketName']} answers")

    def check_session_plugin(self) -> Iterator[Check]:
        """On AWS, with sessions allowed: whether `longtask shell` can start one (the local engine has its own)."""
        if self.target.endpoint_url or self._parameter("AllowRunCommandsAndSessions") != "true":
            return
        version = plugin_version()
        yield Check("Session Manager plugin", version is not None,
                    f"{PLUGIN} {version} is installed" if version else
                    f"{PLUGIN} is not installed; `longtask shell` needs it: {PLUGIN_INSTALL}")  # fmt: skip

    def _launch_security_groups(self) -> list[str]:
        """The groups the launcher gives instances (its SECURITY_GROUP_IDS: the stack's, or the one it made)."""
        launcher = self.cloudformation.describe_stack_resource(
            StackName=self.target.stack_name, LogicalResourceId="LauncherFunction")["StackResourceDetail"]
        configuration = self.target.client("lambda").get_function_configuration(
            FunctionName=launcher["PhysicalResourceId"])  # fmt: skip
        return _split(configuration.get("Environment", {}).get("Variables", {}).get("SECURITY_GROUP_IDS", ""))

    def _resolve_image(self, image: str) -> str | None:
        if not image.startswith("/"):
            return image
        try:
            return self.target.client("ssm").get_parameter(Name=image)["Parameter"]["Value"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ParameterNotFound":
                return None
            raise

    def _types(self, names: list[str]) -> list[dict[str, Any]]:
        return self.ec2.describe_instance_types(InstanceTypes=names)["InstanceTypes"]

    def _parameter(self, name: str) -> str | None:
        return next((p.get("ParameterValue") for p in self.stack.get("Parameters", []) if p["ParameterKey"] == name),
                    None)  # fmt: skip

    def _region(self) -> str:
        return self.ec2.meta.region_name


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


