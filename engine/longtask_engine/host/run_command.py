"""Run Command on a local instance: the commands SSM hands over (plugins/ssm_provider.py), run as the SSM agent runs
AWS-RunShellScript (https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript):
each in a fresh shell of its own, beside the run's script, with the machine's environment and no more (on AWS,
root's); its output whole in S3 under the request's OutputS3KeyPrefix, uploaded with the instance's own role. A
machine whose network is cut is marked offline: SSM then refuses commands for it, as its agent could not poll.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

COMMANDS = "commands"  # <command id>.json handed over; <command id>.result.json written back
OFFLINE = "ssm-offline"
LOOK_SECONDS = 0.2
TIMEOUT_SECONDS = 3600  # AWS-RunShellScript's default executionTimeout
TIMED_OUT = 124


def mark_offline(directory: Path, why: str) -> None:
    (directory / OFFLINE).write_text(why + "\n")


def serve(instance_id: str, directory: Path, env: dict[str, str], powered_off: threading.Event) -> None:
    """Run each command handed to the machine, once, until it is powered off."""
    started: set[str] = set()
    folder = directory / COMMANDS
    while not powered_off.wait(LOOK_SECONDS):
        for sent in sorted(folder.glob("*.json")) if folder.exists() else []:
            if sent.name.endswith(".result.json") or sent.stem in started:
                continue
            started.add(sent.stem)
            threading.Thread(target=run, args=(instance_id, sent, env, directory), daemon=True).start()


def run(instance_id: str, sent_path: Path, env: dict[str, str], directory: Path) -> None:
    sent = json.loads(sent_path.read_text())
    try:
        completed = subprocess.run(["bash", "-c", sent["script"]], cwd=directory, env=env, capture_output=True,
                                   stdin=subprocess.DEVNULL, timeout=TIMEOUT_SECONDS)  # fmt: skip
        code, out, err = completed.returncode, completed.stdout, completed.stderr
    except subprocess.TimeoutExpired as expired:
        code, out, err = TIMED_OUT, expired.stdout or b"", expired.stderr or b""
    result: dict[str, Any] = {"responseCode": code, "stdout": out.decode(errors="replace"),
                              "stderr": err.decode(errors="replace")}  # fmt: skip
    if sent.get("bucket"):
        base = f"{sent['prefix'].rstrip('/')}/{sent['commandId']}/{instance_id}/awsrunShellScript/0.awsrunShellScript"
        for name, data in (("stdout", out), ("stderr", err)):
            uri = f"s3://{sent['bucket']}/{base.lstrip('/')}/{name}"
            if data and subprocess.run(["aws", "s3", "cp", "--only-show-errors", "-", uri], input=data, env=env,
                                       capture_output=True, timeout=120).returncode == 0:  # fmt: skip
                result[f"{name}Url"] = uri
    written = sent_path.with_name(f"{sent['commandId']}.partial")
    written.write_text(json.dumps(result))
    written.rename(sent_path.with_name(f"{sent['commandId']}.result.json"))
