"""Package template.yaml (function code with its dependencies, the ASL files) and deploy it as a stack.

What `sam build` + `sam package` + `sam deploy` do, against LocalStack: each function's CodeUri
folder is copied with the dependencies of its requirements.txt into a zip, uploaded with the
state machine definitions to a deployment bucket, and the template (the SAM transform included)
is created or updated as a CloudFormation stack. Nothing is redeployed when nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from longtask import deployment
from longtask.errors import EngineError
from longtask.sources import DIGEST_METADATA, app_dir, source_digest
from longtask.template_file import load_template
from longtask.waiting import poll_condition
from longtask_engine.paths import EnginePaths

ENGINE_ACCOUNT = "000000000000"  # LocalStack's: its deployment bucket is the one `longtask deploy` uses
LOCAL_RUNTIME = deployment.Runtime(f"{sys.version_info.major}.{sys.version_info.minor}")
TERMINAL_OK = frozenset(deployment.DEPLOYED)
STACK_TIMEOUT_SECONDS = 300
STACK_POLL_SECONDS = 0.2  # a DescribeStacks is cheap on the engine


def package(template: dict[str, Any], root: Path, upload: deployment.Uploader) -> dict[str, Any]:
    """The template with its code and definitions uploaded to the engine's deployment bucket, built for this
    machine's Python (the engine runs the functions with it)."""
    return deployment.package(template, root, deployment.build_cache(LOCAL_RUNTIME), LOCAL_RUNTIME, upload)


def deploy(
    cloudformation: Any,
    s3: Any,
    stack_name: str,
    parameters: dict[str, str],
    paths: EnginePaths,
    template: Path | None = None,
) -> bool:
    """Create or update the stack from template.yaml (or another of the app's templates); return whether
    anything was deployed. Parameters not given keep the stack's current values."""
    template = template or app_dir() / "template.yaml"
    digest = source_digest(app_dir()) + hashlib.sha256(str(template).encode()).hexdigest()[:8]
    marker = paths.state / f"deployed-{stack_name}"
    current, deployed_parameters = deployment.stack_state(cloudformation, stack_name)
    same_parameters = all(deployed_parameters.get(key) == value for key, value in parameters.items())
    if current in TERMINAL_OK and same_parameters and marker.exists() and marker.read_text() == digest:
        return False
    if current is not None and current not in TERMINAL_OK and current != "UPDATE_ROLLBACK_COMPLETE":
        cloudformation.delete_stack(StackName=stack_name)
        _wait(cloudformation, stack_name, {"DELETE_COMPLETE", None})
        current, deployed_parameters = None, {}
    bucket = deployment.artifact_bucket(s3, ENGINE_ACCOUNT, s3.meta.region_name)
    upload = deployment.Uploader(s3, bucket, stack_name)
    packaged = package(load_template(template), template.parent, upload)
    packaged.setdefault("Metadata", {})[DIGEST_METADATA] = source_digest(app_dir())  # the version `doctor` checks
    body = json.dumps(packaged)
    kept = [{"ParameterKey": key, "UsePreviousValue": True} for key in deployed_parameters if key not in parameters]
    arguments = {
        "StackName": stack_name,
        "TemplateBody": body,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()] + kept,
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    }
    if current is None:
        cloudformation.create_stack(**arguments)
    else:
        try:
            cloudformation.update_stack(**arguments)
        except ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
    status = _wait(cloudformation, stack_name, TERMINAL_OK | {"ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"})
    if status not in TERMINAL_OK:
        raise EngineError(
            f"deploying stack {stack_name} ended {status}: {deployment.failure_reasons(cloudformation, stack_name)}"
        )
    upload.mark_deployed()
    marker.write_text(digest)
    return True


def forget(stack_name: str, paths: EnginePaths) -> None:
    """After the stack is deleted: the next deploy creates it again."""
    (paths.state / f"deployed-{stack_name}").unlink(missing_ok=True)


def _wait(cloudformation: Any, stack_name: str, done: set) -> str | None:
    """The stack's status once it is one of `done`."""
    seen: list[str | None] = []

    def settled() -> bool:
        seen.append(deployment.stack_state(cloudformation, stack_name)[0])
        return seen[-1] in done

    if not poll_condition(settled, STACK_TIMEOUT_SECONDS, STACK_POLL_SECONDS):
        raise EngineError(f"stack {stack_name} did not settle within {STACK_TIMEOUT_SECONDS}s")
    return seen[-1]
