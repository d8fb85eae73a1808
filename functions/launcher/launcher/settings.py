"""The launcher's configuration, read from the function's environment (set by template.yaml)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass(frozen=True)
class Settings:
    """Stack-wide defaults and the resources a launch uses."""

    bucket: str
    stack_name: str
    instance_profile_arn: str
    security_group_ids: list[str]
    instance_types: list[str]
    subnet_ids: list[str]
    image_id: str
    timeout_seconds: int
    poll_seconds: int
    max_poll_seconds: int
    script_upload_prefix: str = ""  # where uploads start runs; the instances may read scripts there
    runs_table: str = ""  # where a QUEUED run's record goes (the workflow writes the others)
    queues_table: str = ""
    secret_arns: list[str] = field(default_factory=list)  # what the instances may read (SecretArns)
    secret_parameter_arns: list[str] = field(default_factory=list)  # (SecretParameterArns)
    elastic_ip_allocation_ids: list[str] = field(default_factory=list)  # the pool runs take addresses from

    @property
    def granted_secrets(self) -> list[str]:
        return [*self.secret_arns, *self.secret_parameter_arns]

    @classmethod
    def from_environment(cls) -> Settings:
        env = os.environ
        return cls(
            bucket=env["ARTIFACT_BUCKET"],
            stack_name=env.get("STACK_NAME", "longtask"),
            instance_profile_arn=env.get("INSTANCE_PROFILE_ARN", ""),
            security_group_ids=_list(env.get("SECURITY_GROUP_IDS", "")),
            instance_types=_list(env.get("DEFAULT_INSTANCE_TYPES", "t3a.nano,t3.nano")),
            subnet_ids=_list(env.get("DEFAULT_SUBNET_IDS", "")),
            image_id=env["DEFAULT_IMAGE_ID"],
            timeout_seconds=int(env.get("DEFAULT_TIMEOUT_SECONDS", "7200")),
            poll_seconds=int(env.get("DEFAULT_POLL_SECONDS", "30")),
            max_poll_seconds=int(env.get("DEFAULT_MAX_POLL_SECONDS", "3600")),
            script_upload_prefix=env.get("SCRIPT_UPLOAD_PREFIX", ""),
            runs_table=env.get("RUNS_TABLE", ""),
            queues_table=env.get("QUEUES_TABLE", ""),
            secret_arns=_list(env.get("SECRET_ARNS", "")),
            secret_parameter_arns=_list(env.get("SECRET_PARAMETER_ARNS", "")),
            elastic_ip_allocation_ids=_list(env.get("ELASTIC_IP_ALLOCATION_IDS", "")),
        )
