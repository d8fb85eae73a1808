"""Render the user data: userdata/bootstrap.sh wrapping the user's script, gzip-compressed within EC2's 16 KB limit.

cloud-init decompresses gzip user data and runs what it holds as if it had come plain
(https://cloudinit.readthedocs.io/en/latest/explanation/format.html#gzip-compressed-content); the local engine's
instance agent does the same. Compressed, the bootstrap takes about a third of the 16 KB, leaving the rest for
the script and its env."""

from __future__ import annotations

import gzip
import hashlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from common.keys import ARTIFACTS, s3_uri

from .watch_plan import BACKSTOP_GRACE_MINUTES

USER_DATA_LIMIT_BYTES = 16 * 1024
BOOTSTRAP = Path(__file__).with_name("bootstrap.sh")
CONFIG_MARKER = "# @@LONGTASK_CONFIG@@"
SCRIPT_MARKER = "# @@LONGTASK_SCRIPT@@"


@dataclass(frozen=True)
class BootstrapConfig:
    """What the bootstrap needs to know about its run."""

    run_id: str
    bucket: str
    prefix: str
    deadline_epoch: int
    env: dict[str, str]
    script_uri: str | None = None
    attempt: int = 0
    stall_seconds: int | None = None  # unset: no stall detection
    on_stall: str = "notify"
    hold_seconds: int | None = None  # unset: a failed script's instance ends at once
    secret_refs: str = ""  # NAME=ARN ... (secret_refs.refs_line): read at start, never their values
    elastic_ips: str = ""  # the pool's public IPs: the script starts once the instance egresses from one

    @property
    def artifacts_uri(self) -> str:
        return s3_uri(self.bucket, f"{self.prefix}/{ARTIFACTS}")


HEREDOC = re.compile(r"<<-?'?([A-Z_]+)'?")


def compact(bootstrap: str) -> str:
    """The bootstrap without its comment lines (the shebang, the markers and here-documents kept): what runs is
    the same, and more of the 16 KB is left for the script."""
    kept, closing = [], None
    for index, line in enumerate(bootstrap.splitlines()):
        if closing is not None:
            kept.append(line)
            closing = None if line == closing else closing
            continue
        stripped = line.strip()
        if index and stripped.startswith("#") and stripped not in (CONFIG_MARKER, SCRIPT_MARKER):
            continue
        kept.append(line)
        opened = HEREDOC.search(line)
        closing = opened.group(1) if opened else None
    return "\n".join(kept) + "\n"


def render(config: BootstrapConfig, inline_script: str | None) -> str:
    """The user data for a run: the bootstrap with its config and, if given, the script inline."""
    template = compact(BOOTSTRAP.read_text())
    exports = {
        "LONGTASK_RUN_ID": config.run_id,
        "LONGTASK_BUCKET": config.bucket,
        "LONGTASK_PREFIX": config.prefix,
        "LONGTASK_DEADLINE": str(config.deadline_epoch),
        "LONGTASK_ARTIFACTS_URI": config.artifacts_uri,
        "LONGTASK_ATTEMPT": str(config.attempt),
        "LONGTASK_BACKSTOP_GRACE_MINUTES": str(BACKSTOP_GRACE_MINUTES),
        "LONGTASK_ENV_NAMES": " ".join(config.env),
        **({"LONGTASK_SCRIPT_URI": config.script_uri} if config.script_uri else {}),
        **({"LONGTASK_STALL_SECONDS": str(config.stall_seconds), "LONGTASK_ON_STALL": config.on_stall}
           if config.stall_seconds else {}),
        **({"LONGTASK_HOLD_SECONDS": str(config.hold_seconds)} if config.hold_seconds else {}),
        **({"LONGTASK_SECRET_REFS": config.secret_refs} if config.secret_refs else {}),
        **({"LONGTASK_ELASTIC_IPS": config.elastic_ips} if config.elastic_ips else {}),
        **config.env,
    }
    config_lines = "\n".join(f"export {name}={shlex.quote(value)}" for name, value in exports.items())
    user_data = template.replace(CONFIG_MARKER, config_lines, 1)
    if inline_script is not None:
        user_data = user_data.replace(SCRIPT_MARKER, _inline_writer(inline_script), 1)
    return user_data


def _inline_writer(script: str) -> str:
    """A write_script() that writes the script from a quoted here-document (no expansion inside)."""
    # derived from the script, not random: a retried launch renders the same user data (the ClientToken's
    # request must not change, or EC2 answers IdempotentParameterMismatch); a script line equal to it is unlikely
    delimiter = f"LONGTASK_SCRIPT_{hashlib.sha256(script.encode()).hexdigest()[:16]}"
    body = script if script.endswith("\n") else script + "\n"
    return f"write_script() {{\n  cat >\"$1\" <<'{delimiter}'\n{body}{delimiter}\n}}"


def packed(user_data: str) -> bytes:
    """The user data as EC2 gets it: gzip-compressed, with no timestamp, so that a retried launch sends the same
    bytes (its ClientToken's request must not change)."""
    return gzip.compress(user_data.encode(), compresslevel=9, mtime=0)


def fits(user_data: str) -> bool:
    """Whether the user data, as EC2 gets it, is within EC2's limit (16 KB before base64 encoding)."""
    return len(packed(user_data)) <= USER_DATA_LIMIT_BYTES
