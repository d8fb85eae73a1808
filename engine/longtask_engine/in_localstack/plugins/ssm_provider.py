"""SSM Run Command on local instances: SendCommand, GetCommandInvocation and ListCommandInvocations, as AWS serves
them for AWS-RunShellScript (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html).

An instance is managed (its SSM agent online) only when it runs, its instance profile's role allows the agent
(ssm:UpdateInstanceInformation: https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-instance-permissions.html)
and its network reaches AWS (the agent marks a machine whose network is cut). Otherwise SendCommand answers
InvalidInstanceId, as AWS does for an instance that is not managed. A command is handed to the instance agent as
a file in the instance's folder (commands/<id>.json); the agent runs it as Run Command does, as root in a fresh
shell, and writes its result beside it (instance_agent.py). Output: the first 24,000 characters of standard
output and 8,000 of standard error, the whole in S3 when OutputS3BucketName is given.

Session Manager: StartSession on a managed instance (else TargetNotConnected, as AWS answers) hands the session to
the instance as sessions/<id>.json, with a token, and returns a stream URL on the machine's loopback session port
(host/sessions.py); TerminateSession marks it ended. Everything else of SSM stays LocalStack's. Selected with
PROVIDER_OVERRIDE_SSM=longtask; found through the entry point `localstack.aws.provider`.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localstack.aws.api import CommonServiceException, RequestContext, handler
from localstack.services.plugins import Service, aws_provider
from localstack.services.ssm.provider import SsmProvider

from longtask_engine.paths import EnginePaths

LOG = logging.getLogger(__name__)
RUN_SHELL_SCRIPT = "AWS-RunShellScript"
STDOUT_LIMIT, STDERR_LIMIT = 24_000, 8_000  # what GetCommandInvocation returns of each
AGENT_ACTION = "ssm:UpdateInstanceInformation"
OFFLINE = "ssm-offline"  # the agent's mark on a machine whose network is cut (host/run_command.py)
# the session documents the local agent runs: a shell (the default), or one command
# (https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-sessions-start.html)
SHELL_DOCUMENT, COMMAND_DOCUMENT = "SSM-SessionManagerRunShell", "AWS-StartInteractiveCommand"
SESSION_PORT, SESSIONS = "ssm-session-port", "sessions"  # in the instance's folder (host/sessions.py)


def instance_folder(instance_id: str) -> Path:
    return EnginePaths.default().instances / instance_id


class LocalSsmProvider(SsmProvider):
    @handler("SendCommand", expand=False)
    def send_command(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("DocumentName") != RUN_SHELL_SCRIPT:
            raise CommonServiceException("InvalidDocument", f"the local engine runs only {RUN_SHELL_SCRIPT}")
        instance_ids = request.get("InstanceIds") or []
        offline = [i for i in instance_ids if not _managed(context, i)]
        if not instance_ids or offline:
            raise CommonServiceException("InvalidInstanceId", "Instances [" + ", ".join(offline) + "] not in a valid "
                                         "state for account " + context.account_id)  # fmt: skip
        command_id = str(uuid.uuid4())
        commands = "\n".join((request.get("Parameters") or {}).get("commands") or [])
        sent = {"commandId": command_id, "script": commands, "bucket": request.get("OutputS3BucketName"),
                "prefix": request.get("OutputS3KeyPrefix") or "",
                "requestedAt": datetime.now(UTC).isoformat()}  # fmt: skip
        for instance_id in instance_ids:
            folder = instance_folder(instance_id) / "commands"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{command_id}.tmp").write_text(json.dumps(sent))
            (folder / f"{command_id}.tmp").rename(folder / f"{command_id}.json")  # whole, or not there
        return {"Command": {"CommandId": command_id, "DocumentName": RUN_SHELL_SCRIPT, "InstanceIds": instance_ids,
                            "Status": "Pending", "OutputS3BucketName": sent["bucket"] or "",
                            "OutputS3KeyPrefix": sent["prefix"]}}  # fmt: skip

    @handler("GetCommandInvocation", expand=False)
    def get_command_invocation(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        invocation = _invocation(request["CommandId"], request["InstanceId"])
        if invocation is None:
            raise CommonServiceException("InvocationDoesNotExist", "An error occurred (InvocationDoesNotExist)")
        return invocation

    @handler("ListCommandInvocations", expand=False)
    def list_command_invocations(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        root = EnginePaths.default().instances
        wanted_instance, wanted_command = request.get("InstanceId"), request.get("CommandId")
        found = []
        for sent in root.glob("*/commands/*.json"):
            instance_id, command_id = sent.parent.parent.name, sent.stem
            if sent.name.endswith(".result.json") or (wanted_instance and instance_id != wanted_instance):
                continue
            if wanted_command and command_id != wanted_command:
                continue
            invocation = _invocation(command_id, instance_id)
            if invocation is not None:
                found.append({key: invocation[key] for key in ("CommandId", "InstanceId", "DocumentName", "Status",
                                                               "StatusDetails")})  # fmt: skip
        return {"CommandInvocations": found}

    @handler("StartSession", expand=False)
    def start_session(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        document = request.get("DocumentName") or SHELL_DOCUMENT
        if document not in (SHELL_DOCUMENT, COMMAND_DOCUMENT):
            raise CommonServiceException("InvalidDocument", f"the local engine runs only {SHELL_DOCUMENT} and "
                                         f"{COMMAND_DOCUMENT} sessions")  # fmt: skip
        command = ((request.get("Parameters") or {}).get("command") or [""])[0]
        if document == COMMAND_DOCUMENT and not command:
            raise CommonServiceException("InvalidParameters", f"{COMMAND_DOCUMENT} needs a command")
        target = request.get("Target") or ""
        port_file = instance_folder(target) / SESSION_PORT
        if not _managed(context, target) or not port_file.exists():
            raise CommonServiceException("TargetNotConnected", f"{target} is not connected.")
        session_id = f"{_caller_name(context)}-{secrets.token_hex(9)}"
        folder = instance_folder(target) / SESSIONS
        folder.mkdir(exist_ok=True)
        token = secrets.token_urlsafe(32)
        handover = {"sessionId": session_id, "token": token, "command": command if document == COMMAND_DOCUMENT
                    else ""}  # fmt: skip
        (folder / f"{session_id}.tmp").write_text(json.dumps(handover))
        (folder / f"{session_id}.tmp").rename(folder / f"{session_id}.json")
        return {"SessionId": session_id, "TokenValue": token,
                "StreamUrl": f"tcp://127.0.0.1:{port_file.read_text().strip()}/v1/data-channel/{session_id}"
                             "?role=publish_subscribe"}  # fmt: skip

    @handler("TerminateSession", expand=False)
    def terminate_session(self, context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        session_id = request.get("SessionId") or ""
        for handover in EnginePaths.default().instances.glob(f"*/{SESSIONS}/{session_id}.*"):
            handover.with_name(f"{session_id}.terminated").touch()
        return {"SessionId": session_id}


def _caller_name(context: RequestContext) -> str:
    """Session ids begin with the caller's name: its role's, or the account's (root)."""
    from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header

    from longtask_engine.in_localstack.iam.enforcement import process_enforcer

    key = extract_access_key_id_from_auth_header(context.request.headers)
    role = process_enforcer().principal(key, context.account_id)
    return role.rsplit("/", 1)[-1] if role else "root"


def _managed(context: RequestContext, instance_id: str) -> bool:
    """Running, its role allows the SSM agent, its network up (why not: in LocalStack's log)."""
    from moto.ec2.models import ec2_backends

    from longtask_engine.in_localstack.iam.enforcement import MotoWorld
    from longtask_engine.in_localstack.iam.policy import Request, evaluate

    try:
        instance = ec2_backends[context.account_id][context.region].get_instance(instance_id)
    except Exception:  # moto's InvalidInstanceIdError
        LOG.info("%s is not managed: no such instance", instance_id)
        return False
    if instance.state != "running" or (instance_folder(instance_id) / OFFLINE).exists():
        LOG.info("%s is not managed: it is %s, or its network is cut", instance_id, instance.state)
        return False
    world = MotoWorld(context.account_id, context.region)
    profile = getattr(instance, "iam_instance_profile", None) or {}
    role = world.instance_profile_role(profile) if profile else None
    if role is None:
        LOG.info("%s is not managed: no role in its instance profile %s", instance_id, profile)
        return False
    arn = f"arn:aws:ec2:{context.region}:{context.account_id}:instance/{instance_id}"
    decision = evaluate(Request(role, AGENT_ACTION, arn), world.role_statements(role))
    if not decision.allowed:
        LOG.info("%s is not managed: its role %s may not %s (%s)", instance_id, role, AGENT_ACTION, decision.reason)
    return decision.allowed


def _invocation(command_id: str, instance_id: str) -> dict[str, Any] | None:
    folder = instance_folder(instance_id) / "commands"
    if not (folder / f"{command_id}.json").exists():
        return None
    base = {"CommandId": command_id, "InstanceId": instance_id, "DocumentName": RUN_SHELL_SCRIPT, "Comment": "",
            "PluginName": "aws:runShellScript", "ResponseCode": -1, "StandardOutputContent": "",
            "StandardErrorContent": ""}  # fmt: skip
    try:
        result = json.loads((folder / f"{command_id}.result.json").read_text())
    except FileNotFoundError:
        return {**base, "Status": "InProgress", "StatusDetails": "InProgress"}
    status = "Success" if result["responseCode"] == 0 else "Failed"
    return {**base, "Status": status, "StatusDetails": status, "ResponseCode": result["responseCode"],
            "StandardOutputContent": result["stdout"][:STDOUT_LIMIT],
            "StandardErrorContent": result["stderr"][:STDERR_LIMIT],
            "StandardOutputUrl": result.get("stdoutUrl", ""),
            "StandardErrorUrl": result.get("stderrUrl", "")}  # fmt: skip


@aws_provider(api="ssm", name="longtask")
def ssm_longtask() -> Service:
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(LocalSsmProvider(), dispatch_table_factory=MotoFallbackDispatcher)
