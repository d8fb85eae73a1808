"""The secrets a run reads (input `secrets`): what each reference names, and whether the stack lets its instances
read it. The instance role may read exactly the stack's SecretArns and SecretParameterArns (template.yaml), so a
reference outside them is refused before anything launches, as is one in another Region (the instance's role
reads in its own)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidInput

# arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX[:json-key]: secret names hold no ':', and the full
# ARN ends in the 6 characters Secrets Manager adds, which IAM matches
# (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html#iam-resources)
SECRET_ARN = re.compile(r"^(arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):(\d{12}):secret:[\w/+=.@-]+-[A-Za-z0-9]{6})"
                        r"(?::([^:\s]+))?$")  # fmt: skip
PARAMETER_ARN = re.compile(r"^(arn:aws[a-z-]*:ssm:([a-z0-9-]+):(\d{12}):parameter/[\w/.-]+)$")


@dataclass(frozen=True)
class SecretRef:
    """One reference: the ARN IAM sees, its Region, and the JSON key read from a secret (if any)."""

    arn: str
    region: str
    json_key: str | None = None


def parse_secret_ref(ref: str) -> SecretRef | None:
    """The reference's parts, or None when it is neither a secret's full ARN nor a parameter's ARN."""
    if matched := SECRET_ARN.match(ref):
        return SecretRef(matched.group(1), matched.group(2), matched.group(4))
    if matched := PARAMETER_ARN.match(ref):
        return SecretRef(matched.group(1), matched.group(2))
    return None


def check_secrets(secrets: dict[str, str], region: str, granted: list[str]) -> None:
    """InvalidInput, naming each, for a reference in another Region or outside the ARNs the stack grants (IAM's
    wildcards: * any characters, ? one)."""
    for name, ref in secrets.items():
        parsed = parse_secret_ref(ref)
        if parsed is None:  # the input's model refuses these first
            raise InvalidInput(f"secrets.{name}: {ref} is not a secret or parameter ARN")
        if parsed.region != region:
            raise InvalidInput(f"secrets.{name}: {ref} is in {parsed.region}; the instances read secrets in the "
                               f"stack's Region, {region}: replicate the secret there")  # fmt: skip
        if not any(_matches(pattern, parsed.arn) for pattern in granted):
            allowed = ", ".join(granted) or "nothing (SecretArns and SecretParameterArns are empty)"
            raise InvalidInput(f"secrets.{name}: the instances may not read {parsed.arn}; the stack grants {allowed}. "
                               "Add it to the stack's SecretArns or SecretParameterArns and deploy")  # fmt: skip


def _matches(pattern: str, arn: str) -> bool:
    return re.fullmatch(".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*")),
                        arn) is not None  # fmt: skip


def refs_line(secrets: dict[str, str]) -> str:
    """The references as the bootstrap reads them (LONGTASK_SECRET_REFS): NAME=ARN, space-separated (ARNs have
    no spaces)."""
    return " ".join(f"{name}={ref}" for name, ref in secrets.items())
