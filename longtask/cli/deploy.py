"""`longtask deploy`: build, package and deploy template.yaml as the stack, locally or on AWS (--aws)."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import LongTaskError, UserError
from .options import TargetOptions, key_values, stderr, stdout

if TYPE_CHECKING:
    from ..deployment import ArtifactBucket, Deployment

Parameters = Annotated[list[str] | None, typer.Option(
    "--parameter", metavar="KEY=VALUE", help="A template parameter (kept from the last deploy when not given).")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Apply the changes without asking.")]
FAILED_CREATE = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "REVIEW_IN_PROGRESS")


def deploy(ctx: typer.Context, parameter: Parameters = None, yes: Yes = False) -> None:
    """Build the functions, upload them and deploy template.yaml through a change set that shows what changes
    first; with --aws to your account (no Docker, no second Python), else to the local engine."""
    from ..deployment import DEPLOYED
    from ..sources import app_dir, source_digest
    from ..template_file import load_template

    chosen: TargetOptions = ctx.find_root().obj
    deployment, bucket = _deployment(chosen, key_values(parameter, "--parameter"))
    template = load_template(app_dir() / "template.yaml")
    deployment.check_parameters(template)
    status, existing = deployment.current()
    if status in FAILED_CREATE:
        _delete_failed_stack(deployment, status, yes)
        status, existing = None, {}
    if status is None and not chosen.aws:  # a new stack on the engine polls as the engine's do, unless told
        from ..local_engine import engine_module

        local = engine_module().LOCAL_STACK_PARAMETERS
        deployment = replace(deployment, parameters={**local, **deployment.parameters})
    elif status is not None and status.endswith("_IN_PROGRESS"):
        raise UserError(f"stack {deployment.stack} is {status}; wait for it to settle and deploy again")
    digest = source_digest(app_dir())
    same_parameters = all(existing.get(key) == value for key, value in deployment.parameters.items())
    if status in (*DEPLOYED, "UPDATE_ROLLBACK_COMPLETE") and same_parameters and deployment.deployed_digest() == digest:
        _up_to_date(deployment)
        return
    from botocore.exceptions import ClientError

    from ..deployment import Uploader

    upload = Uploader(deployment.s3, bucket, deployment.stack)
    try:
        with stderr.status("building and uploading the functions, creating the change set"):
            change_set = deployment.change_set(template, app_dir(), upload, existing if status else None, digest)
    except ClientError as error:
        if status is None:  # a refused creation leaves no stack behind
            _remove_stack_under_review(deployment)
        raise UserError(f"CloudFormation refused the deploy: {error.response['Error'].get('Message', error)}") from None
    if change_set is None:
        _up_to_date(deployment)
        return
    _show_changes(change_set.changes)
    if not yes:
        if not sys.stdin.isatty():
            _abandon(deployment, change_set.arn, created=status is None)
            raise UserError("deploy asks before applying changes; add --yes where nobody can answer")
        if not typer.confirm("apply these changes?"):
            _abandon(deployment, change_set.arn, created=status is None)
            raise typer.Exit(1)
    _follow(deployment, change_set)
    final, _ = deployment.current()
    if final not in DEPLOYED:
        reasons = deployment.failures()
        if final in FAILED_CREATE:  # no half-deployed stack is left behind
            deployment.cloudformation.delete_stack(StackName=deployment.stack)
        raise LongTaskError(f"deploying stack {deployment.stack} ended {final}: {reasons}")
    upload.mark_deployed()
    stderr.print(f"stack [bold]{deployment.stack}[/] is {final}")
    _show_outputs(deployment)


def _deployment(chosen: TargetOptions, parameters: dict[str, str]) -> tuple[Deployment, ArtifactBucket]:
    from botocore.exceptions import NoCredentialsError

    from ..client import Target
    from ..deployment import LAMBDA_RUNTIME, Deployment, artifact_bucket, build_cache
    from ..targets import NO_CREDENTIALS

    if chosen.aws:
        target, runtime = Target(stack_name=chosen.stack, region=chosen.region, profile=chosen.profile), LAMBDA_RUNTIME
    else:
        from ..local_engine import engine_module, paths

        engine = engine_module()
        if engine.up(paths()):
            stderr.print("[dim]local engine started[/]")
        target, runtime = engine.target(paths(), chosen.stack), engine_module("host.deploy").LOCAL_RUNTIME
    try:
        account = target.client("sts").get_caller_identity()["Account"]
    except NoCredentialsError:
        raise UserError(NO_CREDENTIALS) from None
    s3 = target.client("s3")
    region = s3.meta.region_name
    deployment = Deployment(target.client("cloudformation"), s3, target.client("ssm"), chosen.stack, parameters,
                            runtime, build_cache(runtime))  # fmt: skip
    return deployment, artifact_bucket(s3, account, region)


def _delete_failed_stack(deployment: Deployment, status: str, yes: bool) -> None:
    """A stack whose creation failed cannot be updated: delete it (when allowed) before creating it again."""
    ask = f"stack {deployment.stack} is {status} (its creation failed) and must be deleted before a deploy"
    if not yes and not (sys.stdin.isatty() and typer.confirm(f"{ask}; delete it?")):
        raise UserError(f"{ask}: run `longtask destroy` or deploy again with --yes")
    deployment.cloudformation.delete_stack(StackName=deployment.stack)
    from ..waiting import poll_condition

    poll_condition(lambda: deployment.current()[0] is None, 300, 1)


def _up_to_date(deployment: Deployment) -> None:
    stderr.print(f"stack [bold]{deployment.stack}[/] is up to date: nothing to deploy")
    _show_outputs(deployment)


def _remove_stack_under_review(deployment: Deployment) -> None:
    """The empty stack (REVIEW_IN_PROGRESS) a refused creating change set may leave."""
    if deployment.current()[0] == "REVIEW_IN_PROGRESS":
        deployment.cloudformation.delete_stack(StackName=deployment.stack)


def _abandon(deployment: Deployment, change_set: str, created: bool) -> None:
    """Drop a change set that will not be applied (and the empty stack a creating one made)."""
    deployment.cloudformation.delete_change_set(ChangeSetName=change_set, StackName=deployment.stack)
    if created:
        deployment.cloudformation.delete_stack(StackName=deployment.stack)


def _show_changes(changes: list[tuple[str, str, str, str]]) -> None:
    from rich.table import Table

    table = Table("action", "resource", "type", "replacement", title="changes", title_justify="left")
    for action, logical_id, resource_type, replacement in changes:
        table.add_row(action, logical_id, resource_type, replacement)
    stderr.print(table)


def _follow(deployment: Deployment, change_set: Any) -> None:
    """Execute the change set, showing each resource's latest status as CloudFormation reports it."""
    from rich.live import Live
    from rich.table import Table

    from ..deployment import execute

    latest: dict[str, tuple[str, str]] = {}

    def view() -> Table:
        table = Table("resource", "status", "reason", title=f"stack {deployment.stack}", title_justify="left")
        for logical_id, (resource_status, reason) in latest.items():
            style = "red" if "FAILED" in resource_status else "green" if resource_status.endswith("COMPLETE") else ""
            table.add_row(logical_id, f"[{style}]{resource_status}[/]" if style else resource_status, reason)
        return table

    events = execute(deployment.cloudformation, deployment.stack, change_set)
    if not stderr.is_terminal:  # a log: one line per event
        for event in events:
            reason = event.get("ResourceStatusReason", "")
            stderr.print(f"{event['LogicalResourceId']}: {event['ResourceStatus']} {reason}".rstrip())
        return
    with Live(view(), console=stderr, refresh_per_second=4) as live:
        for event in events:
            latest[event["LogicalResourceId"]] = (event["ResourceStatus"], event.get("ResourceStatusReason", ""))
            live.update(view())


def _show_outputs(deployment: Deployment) -> None:
    for key, value in sorted(deployment.outputs().items()):
        stdout.print(f"{key}\t{value}", highlight=False, soft_wrap=True)
