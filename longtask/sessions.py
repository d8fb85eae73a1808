"""`longtask shell`: an interactive session on a run's instance through Session Manager, run as `aws ssm
start-session` runs it (the AWS CLI calls StartSession, then hands the data channel to the Session Manager plugin).

What a session sees, the same on AWS and locally: Session Manager starts it as `ssm-user`; its command becomes root
with `sudo -i` and starts bash with the run's profile (the bootstrap's, root's only) as its rc file. So: root, in
root's home, the run's variables (those `exec` sees), and nothing else of the script's environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

from .client import Target
from .errors import UserError

SESSION_DOCUMENT = "AWS-StartInteractiveCommand"
SESSION_COMMAND = 'sudo -i bash --rcfile "${LONGTASK_WORK_DIR:-/var/lib/longtask}/profile"'
PLUGIN = "session-manager-plugin"
PLUGIN_INSTALL = "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html"
CLI_INSTALL = "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"


@dataclass(frozen=True)
class SessionTools:
    """What starts a session: an AWS CLI, and the PATH on which it finds the Session Manager plugin."""

    aws: str
    path: str


def installed_tools() -> SessionTools:
    """The user's AWS CLI and Session Manager plugin; an error that says how to install whichever is missing."""
    aws = shutil.which("aws")
    if aws is None:
        raise UserError(f"`longtask shell` runs `aws ssm start-session`, and the AWS CLI is not installed: install it "
                        f"({CLI_INSTALL}), then try again")  # fmt: skip
    if plugin_version() is None:
        raise UserError(f"the Session Manager plugin ({PLUGIN}), which `aws ssm start-session` needs, is not "
                        f"installed: install it ({PLUGIN_INSTALL}), then try again")  # fmt: skip
    return SessionTools(aws, os.environ.get("PATH", ""))


def plugin_version() -> str | None:
    """The installed Session Manager plugin's version, or None."""
    plugin = shutil.which(PLUGIN)
    if plugin is None:
        return None
    try:
        return subprocess.run([plugin, "--version"], capture_output=True, text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return None


def start_session_command(target: Target, instance_id: str, tools: SessionTools) -> tuple[list[str], dict[str, str]]:
    """`aws ssm start-session` into the instance, with the session's command, and the environment to run it in."""
    argv = [tools.aws, "ssm", "start-session", "--target", instance_id, "--document-name", SESSION_DOCUMENT,
            "--parameters", json.dumps({"command": [SESSION_COMMAND]})]  # fmt: skip
    env = {**os.environ, "PATH": tools.path}
    region = target.region or target.session.region_name
    if region:
        argv += ["--region", region]
    if target.endpoint_url:  # the engine: its endpoint, its certificate, the target's own keys
        credentials = target.session.get_credentials()
        argv += ["--endpoint-url", target.endpoint_url]
        env |= {"AWS_ACCESS_KEY_ID": credentials.access_key, "AWS_SECRET_ACCESS_KEY": credentials.secret_key}
        if target.ca_bundle:
            env["AWS_CA_BUNDLE"] = target.ca_bundle
    elif target.profile:
        argv += ["--profile", target.profile]
    return argv, env
