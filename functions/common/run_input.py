"""The execution input of a run, validated with pydantic."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InvalidInput
from .queues import DEFAULT_PRIORITY, DEFAULT_QUEUE, MAX_PRIORITY, QUEUE_NAME
from .secret_refs import parse_secret_ref

ONE_YEAR_SECONDS = 365 * 24 * 3600
RESERVED_TAG_PREFIXES = ("aws:", "longtask:")
RESERVED_ENV_PREFIX = "LONGTASK_"
DEFAULT_MAX_QUEUE_SECONDS = 6 * 3600
# Linux passes no NAME=value string over 32 pages (MAX_ARG_STRLEN, 131,072 bytes with its NUL) to a command: with
# a longer env value exported, every command of the script and the bootstrap fails with E2BIG
# (https://man7.org/linux/man-pages/man2/execve.2.html, "Limits on size of arguments and environment")
MAX_ENV_STRING_BYTES = 131_072 - 1

InstanceType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")]
SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]
AllocationId = Annotated[str, Field(pattern=r"^eipalloc-[0-9a-f]{8,17}$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=256)]
TagKey = Annotated[str, Field(min_length=1, max_length=128)]
TagValue = Annotated[str, Field(max_length=256)]
ExitCode = Annotated[int, Field(ge=1, le=255)]


class RunInput(BaseModel):
    """What a caller may put in StartExecution's input (camelCase, as AWS names things)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    script: str | None = Field(None, min_length=1)
    script_s3_uri: str | None = Field(None, alias="scriptS3Uri", pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+")
    instance_types: list[InstanceType] | None = Field(None, alias="instanceTypes", min_length=1, max_length=20)
    subnet_ids: list[SubnetId] | None = Field(None, alias="subnetIds", min_length=1, max_length=16)
    image_id: str | None = Field(None, alias="imageId", pattern=r"^ami-[0-9a-f]{8,17}$")
    timeout_seconds: int | None = Field(None, alias="timeoutSeconds", ge=1, le=ONE_YEAR_SECONDS)
    poll_seconds: int | None = Field(None, alias="pollSeconds", ge=1, le=3600)
    max_poll_seconds: int | None = Field(None, alias="maxPollSeconds", ge=1, le=3600)
    spot: bool = False
    # after this many Spot interruptions, later attempts run on demand (set it to retries to stay on Spot)
    on_demand_after_interruptions: int = Field(1, alias="onDemandAfterInterruptions", ge=1, le=5)
    retries: int = Field(0, ge=0, le=5)
    retry_on_exit_codes: list[ExitCode] = Field(default_factory=list, alias="retryOnExitCodes", max_length=20)
    retry_backoff_seconds: int = Field(0, alias="retryBackoffSeconds", ge=0, le=3600)
    # a second deadline: when the run's cost (instance, root volume, public IPv4; every attempt) would pass it
    max_cost_usd: float | None = Field(None, alias="maxCostUsd", gt=0, le=1_000_000)
    env: dict[EnvName, str] = Field(default_factory=dict)
    # variables the instance reads at start, with its role: a Secrets Manager secret ARN (optionally ending in
    # :json-key) or a Parameter Store parameter ARN; never in the user data, masked (***) in the log
    secrets: dict[EnvName, str] = Field(default_factory=dict, max_length=50)
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=40)
    associate_public_ip_address: bool | None = Field(None, alias="associatePublicIpAddress")
    # a fixed egress IP: an Elastic IP from the stack's pool (True), or from these of its allocation ids
    elastic_ip: bool = Field(False, alias="elasticIp")
    elastic_ip_allocation_ids: list[AllocationId] | None = Field(None, alias="elasticIpAllocationIds", min_length=1,
                                                                  max_length=50)
    http_put_response_hop_limit: int = Field(1, alias="httpPutResponseHopLimit", ge=1, le=64)
    # the queue whose caps the run counts against (created on first use, uncapped), and its rank there
    queue: str = Field(DEFAULT_QUEUE, pattern=QUEUE_NAME.pattern)
    priority: int = Field(DEFAULT_PRIORITY, ge=0, le=MAX_PRIORITY)
    # how long the run may wait, queued, over all its attempts; 0 fails at once instead of waiting
    max_queue_seconds: int = Field(DEFAULT_MAX_QUEUE_SECONDS, alias="maxQueueSeconds", ge=0, le=ONE_YEAR_SECONDS // 2)
    # no progress (output, checkpoint, heartbeat) for this long is a stall; what then: go on, fail, or relaunch
    stall_seconds: int | None = Field(None, alias="stallSeconds", ge=1, le=ONE_YEAR_SECONDS)
    on_stall: Literal["notify", "fail", "retry"] = Field("notify", alias="onStall")
    # a script that fails leaves its instance up this long for inspection (`longtask release` ends it sooner)
    hold_on_failure_seconds: int | None = Field(None, alias="holdOnFailureSeconds", ge=1, le=ONE_YEAR_SECONDS)
    # set by Step Functions when a parent workflow starts the run (states:startExecution): links the two
    started_by_execution_id: str | None = Field(None, alias="AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")

    @model_validator(mode="after")
    def _one_script_source(self) -> RunInput:
        if (self.script is None) == (self.script_s3_uri is None):
            raise ValueError("give exactly one of 'script' (bash text) or 'scriptS3Uri' (s3://bucket/key)")
        if self.script is not None and not self.script.strip():
            raise ValueError("script is empty or only whitespace; give the bash text to run")
        reserved = [key for key in self.tags if key.lower().startswith(RESERVED_TAG_PREFIXES)]
        if reserved:
            raise ValueError(f"tags {reserved} use a reserved prefix ({', '.join(RESERVED_TAG_PREFIXES)})")
        if self.max_poll_seconds and self.poll_seconds and self.max_poll_seconds < self.poll_seconds:
            raise ValueError("maxPollSeconds must be at least pollSeconds")
        if self.retry_on_exit_codes and not self.retries:
            raise ValueError("retryOnExitCodes relaunches within retries; set retries (1 to 5) too")
        if self.on_stall != "notify" and self.stall_seconds is None:
            raise ValueError(f"onStall {self.on_stall!r} acts on a stall; set stallSeconds too")
        if self.on_stall == "retry" and not self.retries:
            raise ValueError("onStall 'retry' relaunches within retries; set retries (1 to 5) too")
        too_long = [name for name, value in self.env.items()
                    if len(f"{name}={value}".encode()) > MAX_ENV_STRING_BYTES]  # fmt: skip
        if too_long:
            raise ValueError(f"env {too_long}: over the {MAX_ENV_STRING_BYTES + 1:,} bytes Linux passes a command as "
                             "one variable (MAX_ARG_STRLEN); pass large values through S3")  # fmt: skip
        reserved_env = [name for name in self.env if name.upper().startswith(RESERVED_ENV_PREFIX)]
        if reserved_env:
            raise ValueError(f"env names {reserved_env} use the reserved prefix {RESERVED_ENV_PREFIX}")
        reserved_secrets = [name for name in self.secrets if name.upper().startswith(RESERVED_ENV_PREFIX)]
        if reserved_secrets:
            raise ValueError(f"secrets names {reserved_secrets} use the reserved prefix {RESERVED_ENV_PREFIX}")
        both = sorted(set(self.env) & set(self.secrets))
        if both:
            raise ValueError(f"{both} are in both env and secrets; give each variable once")
        malformed = {name: ref for name, ref in self.secrets.items() if parse_secret_ref(ref) is None}
        if malformed:
            raise ValueError(f"secrets {malformed}: not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:"
                             "ACCOUNT:secret:NAME-SUFFIX, optionally :json-key) or a Parameter Store parameter ARN "
                             "(arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)")  # fmt: skip
        return self


def parse_run_input(raw: object) -> RunInput:
    """Validate the execution input, or raise InvalidInput naming each bad field and what is wrong."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"the execution input must be a JSON object, got {type(raw).__name__}")
    try:
        return RunInput.model_validate(raw)
    except ValidationError as error:
        problems = [_describe(problem) for problem in error.errors(include_url=False)]
        raise InvalidInput("invalid input: " + "; ".join(problems)) from None


def _describe(problem: dict) -> str:
    field = ".".join(str(part) for part in problem["loc"])
    message = re.sub(r"^Value error, ", "", problem["msg"])
    return f"{field}: {message}" if field else message
