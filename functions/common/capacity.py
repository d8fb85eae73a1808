"""What the account can still launch: each type's vCPUs, the vCPU quotas of their families, and the vCPUs in use.

The launcher asks before RunInstances, so that it does not make calls EC2 would certainly refuse. The reads are
bounded: a Lambda environment keeps what it read for a while and counts its own launches meanwhile, so a queued run's
retry does not describe the account's instances again. EC2 stays the judge: a launch it refuses anyway is queued.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .vcpu_quotas import group_name, quota_code

# how long what was read stays good: instances in use change with every launch and end; quotas rarely
IN_USE_SECONDS = 10.0
QUOTA_SECONDS = 300.0
COUNTED_STATES = ["pending", "running"]  # what a vCPU quota counts (ec2-instance-quotas.html)


@dataclass
class Capacity:
    """One Lambda environment's view of the account's vCPU quotas, refreshed when stale."""

    ec2: Any
    quotas: Any  # a Service Quotas client
    clock: Callable[[], float] = time.monotonic
    _vcpus: dict[str, int] = field(default_factory=dict)
    _quota: dict[str, tuple[float, float | None]] = field(default_factory=dict)  # code -> (read at, value)
    _in_use: dict[str, int] = field(default_factory=dict)  # quota code -> vCPUs
    _in_use_read: float | None = None
    _running: int = 0  # the account's pending and running instances, as last read

    def vcpus(self, instance_types: list[str]) -> dict[str, int]:
        """Each type's default vCPUs (DescribeInstanceTypes, once per type per environment)."""
        missing = [name for name in instance_types if name not in self._vcpus]
        try:
            self._describe(missing)
        except ClientError as error:
            if error.response["Error"]["Code"] != "InvalidInstanceType":
                raise
            for name in missing:  # one by one: a type that does not exist is left to RunInstances to refuse
                with contextlib.suppress(ClientError):
                    self._describe([name])
        return {name: self._vcpus[name] for name in instance_types if name in self._vcpus}

    def _describe(self, instance_types: list[str]) -> None:
        if not instance_types:
            return
        for page in self.ec2.get_paginator("describe_instance_types").paginate(InstanceTypes=instance_types):
            for described in page["InstanceTypes"]:
                self._vcpus[described["InstanceType"]] = described["VCpuInfo"]["DefaultVCpus"]

    def quota(self, instance_type: str, spot: bool, fresh: bool = False) -> float | None:
        """The vCPU quota the type counts against on that market; None when it is not known. fresh: read within
        IN_USE_SECONDS (before a refusal: a quota just raised must not keep runs waiting)."""
        code = quota_code(instance_type, spot)
        if code is None:
            return None
        read_at, value = self._quota.get(code, (None, None))
        if read_at is None or self.clock() - read_at > (IN_USE_SECONDS if fresh else QUOTA_SECONDS):
            try:
                value = self.quotas.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"]
            except ClientError:
                value = None  # unknown: EC2 decides
            self._quota[code] = (self.clock(), value)
        return value

    def in_use(self, instance_type: str, spot: bool) -> int:
        """vCPUs of the account's pending and running instances that count against the type's quota."""
        self._read_in_use()
        code = quota_code(instance_type, spot)
        return self._in_use.get(code, 0) if code else 0

    def running(self) -> int:
        """The account's pending and running instances (the same read as in_use); as last read when EC2 refuses
        a fresh one (asked after a launch, a throttled look must not fail the run)."""
        with contextlib.suppress(ClientError):
            self._read_in_use()
        return self._running

    def _read_in_use(self) -> None:
        if self._in_use_read is not None and self.clock() - self._in_use_read <= IN_USE_SECONDS:
            return
        self._in_use = {}
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": COUNTED_STATES}])
        instances = [i for page in pages for r in page["Reservations"] for i in r["Instances"]]
        counted = self.vcpus(sorted({i["InstanceType"] for i in instances}))
        for instance in instances:
            code = quota_code(instance["InstanceType"], instance.get("InstanceLifecycle") == "spot")
            if code is not None:
                self._in_use[code] = self._in_use.get(code, 0) + counted.get(instance["InstanceType"], 0)
        self._running = len(instances)
        self._in_use_read = self.clock()

    def launched(self, instance_type: str, spot: bool, vcpus: int) -> None:
        """Count a launch of this environment until the next read sees it."""
        code = quota_code(instance_type, spot)
        if code is not None:
            self._in_use[code] = self._in_use.get(code, 0) + vcpus
        self._running += 1

    def refusal(self, instance_type: str, spot: bool, vcpus: int) -> str | None:
        """Why EC2 would certainly refuse the launch for its quota now, in words; None when it may not."""
        quota = self.quota(instance_type, spot)
        if quota is None:
            return None
        used = self.in_use(instance_type, spot)
        if used + vcpus > quota:
            quota = self.quota(instance_type, spot, fresh=True)
            if quota is not None and used + vcpus > quota:
                return f"vCPU quota for {group_name(instance_type, spot)}: {used} of {quota:g} in use"
        return None

    def never_fits(self, instance_type: str, spot: bool, vcpus: int) -> str | None:
        """Why the type can never launch on that market (its quota is smaller than one instance); else None."""
        quota = self.quota(instance_type, spot)
        if quota is not None and quota < vcpus:
            quota = self.quota(instance_type, spot, fresh=True)
        if quota is None or quota >= vcpus:
            return None
        code = quota_code(instance_type, spot)
        return (f"{instance_type} needs {vcpus} vCPUs and the quota {code} ({group_name(instance_type, spot)}) is "
                f"{quota:g}; ask for more in Service Quotas")  # fmt: skip
