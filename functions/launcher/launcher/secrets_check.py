"""Refuse scripts that carry credentials: secrets belong in Secrets Manager or SSM Parameter Store."""

from __future__ import annotations

import re

from .errors import InvalidInput

_PATTERNS = {
    "an AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "an AWS secret access key": re.compile(r"(?i)aws_?secret_?access_?key\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{40}\b"),
    "a private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
}


def refuse_secrets(script: str) -> None:
    """Raise InvalidInput if the script looks like it embeds a credential."""
    found = [what for what, pattern in _PATTERNS.items() if pattern.search(script)]
    if found:
        raise InvalidInput(
            f"script: it contains what looks like {' and '.join(found)}; user data is readable by anyone "
            "who can describe the instance. Store the secret in AWS Secrets Manager or SSM Parameter Store "
            "and read it from the script (see docs/operations.md, 'Secrets')."
        )
