"""What every command shares: the target options, connecting to the stack, and output helpers."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from ..client import LongTaskClient, Target

stderr = Console(stderr=True, highlight=False)
stdout = Console(highlight=False, soft_wrap=True)

# locally a poll costs nothing: poll every second, back off to 5 s at most
LOCAL_STACK_PARAMETERS = {"DefaultPollSeconds": "1", "DefaultMaxPollSeconds": "5"}

Aws = Annotated[bool, typer.Option("--aws", help="Talk to the stack deployed on AWS instead of the local engine.")]
StackName = Annotated[str, typer.Option("--stack", help="Name of the CloudFormation stack.", envvar="LONGTASK_STACK")]
Region = Annotated[str | None, typer.Option("--region", help="AWS region (default: from your AWS config).")]
Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile (default: from your AWS config).")]
RunId = Annotated[str, typer.Argument(metavar="RUN_ID", help="The run id (the execution name).")]
Json = Annotated[bool, typer.Option("--json", help="Print only the data, as JSON, on stdout.")]


class UserError(Exception):
    """A mistake the user can fix; printed without a traceback."""


def connect(aws: bool, stack: str, region: str | None, profile: str | None) -> LongTaskClient:
    """A client for the stack: on AWS as configured, or on the local engine (started, deployed as needed)."""
    if aws:
        return LongTaskClient(Target(stack_name=stack, region=region, profile=profile))
    from ..local import engine
    from ..local.deploy import deploy
    from ..local.localstack import endpoint_url
    from ..local.paths import EnginePaths

    paths = EnginePaths.default()
    if engine.up(paths):
        stderr.print(f"[dim]local engine up at {endpoint_url()}[/]")
    target = engine.target(paths, stack)
    with stderr.status(f"deploying stack {stack} locally"):
        if deploy(target.client("cloudformation"), target.client("s3"), stack, LOCAL_STACK_PARAMETERS, paths):
            stderr.print(f"[dim]stack {stack} deployed locally[/]")
    return LongTaskClient(target)


def print_json(data: Any) -> None:
    stdout.out(json.dumps(data, indent=2, default=str))


def key_values(pairs: list[str] | None, option: str) -> dict[str, str]:
    """KEY=VALUE options as a dict."""
    result: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"{option} {pair!r}: write KEY=VALUE")
        result[key] = value
    return result
